using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;

namespace Bouncer.Server;

/// <summary>The reverse proxies whose <c>X-Forwarded-For</c> names the client (<c>Bouncer:TrustedProxies</c>).</summary>
public sealed class TrustedProxies
{
    private readonly IReadOnlyList<IPAddress>? _addresses;   // null: any proxy

    private TrustedProxies(IReadOnlyList<IPAddress>? addresses) => _addresses = addresses;

    /// <summary>Null when unset. Checked at start, so a typo stops the server with one line instead of failing later.</summary>
    /// <exception cref="InvalidOperationException">An entry is not an IP address.</exception>
    public static TrustedProxies? Parse(string? setting)
    {
        if (string.IsNullOrWhiteSpace(setting)) return null;
        if (setting.Trim() == "*") return new TrustedProxies(null);
        var addresses = new List<IPAddress>();
        foreach (var part in setting.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPAddress.TryParse(part, out var address))
                throw new InvalidOperationException($"Bouncer:TrustedProxies: '{part}' is not an IP address (or use * for any).");
            addresses.Add(address);
        }
        return new TrustedProxies(addresses);
    }

    /// <summary>Trusts forwarded headers from these proxies only, replacing the framework's defaults.</summary>
    public void Apply(ForwardedHeadersOptions options)
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        options.ForwardLimit = 1;
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        // An empty list trusts every sender; with addresses, only those.
        foreach (var address in _addresses ?? []) options.KnownProxies.Add(address);
    }
}
