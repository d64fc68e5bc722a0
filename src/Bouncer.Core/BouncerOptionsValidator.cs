using Microsoft.Extensions.Options;

namespace Bouncer;

/// <summary>
/// Validates Bouncer's options the .NET way (<see cref="IValidateOptions{TOptions}"/>, run by <c>ValidateOnStart</c>
/// in a host and on first use elsewhere): the message names the setting, one line.
/// </summary>
/// <typeparam name="TOptions">The options type of the host (<see cref="BouncerEngineOptions"/> or a derived one).</typeparam>
public sealed class BouncerOptionsValidator<TOptions> : IValidateOptions<TOptions> where TOptions : BouncerEngineOptions
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
