namespace Bouncer;

/// <summary>
/// A deployment that cannot start as configured: a bad or unreachable store connection, a refused setting. Its
/// <see cref="Exception.Message"/> is one line that starts with the setting at fault
/// (<c>Bouncer:Connection: Redis at '10.0.0.5:6379' is unreachable: ...</c>), so a host can print it as is; the
/// cause, when there is one, is the inner exception. Never carries a password.
/// </summary>
public sealed class BouncerConfigurationException : InvalidOperationException
{
    /// <param name="setting">The setting at fault, as an operator would type it (<c>Bouncer:Connection</c>, <c>UseRedis configuration</c>).</param>
    /// <param name="problem">What is wrong with it; only its first line is kept.</param>
    /// <param name="innerException">The cause, or null.</param>
    public BouncerConfigurationException(string setting, string problem, Exception? innerException = null)
        : base($"{setting}: {FirstLine(problem)}", innerException)
    {
        Setting = setting;
        Problem = FirstLine(problem);
    }

    /// <summary>The setting at fault.</summary>
    public string Setting { get; }

    /// <summary>What is wrong with it, one line, without the setting's name.</summary>
    public string Problem { get; }

    private static string FirstLine(string text) => text.Split('\n')[0].TrimEnd('\r');
}
