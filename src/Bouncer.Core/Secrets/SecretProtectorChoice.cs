namespace Bouncer.Secrets;

/// <summary>The protector chosen in code (<see cref="BouncerBuilder.ProtectSecretsWith"/>); its factory may decline with null.</summary>
internal sealed record SecretProtectorChoice(Func<IServiceProvider, ISecretProtector?> Factory);
