using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Bouncer.Tests;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Bouncer.Server.Tests;

/// <summary>
/// Interop with a DPoP implementation nobody here wrote: panva's <c>dpop</c> npm package (tests/Interop/dpop, pinned in
/// its package-lock.json, installed with <c>npm ci</c> when missing) drives login, a resource call, a replay and a
/// refresh against the server on real Kestrel; and its RFC 7638 thumbprint of a key made by these tests matches ours.
/// </summary>
public sealed class DpopInteropTests
{
    private static readonly string Folder = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../Interop/dpop"));

    private static readonly Lazy<bool> Installed = new(() =>
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", "dpop"))) Run("npm", ["ci", "--no-audit", "--no-fund"]);
        return true;
    });

    private static string Run(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}: is node installed?");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(true); throw new TimeoutException($"{file} did not finish"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static JsonElement Node(params string[] arguments)
    {
        _ = Installed.Value;
        return JsonDocument.Parse(Run("node", ["client.mjs", .. arguments]).Trim().Split('\n')[^1]).RootElement;
    }

    [Theory]
    [InlineData("ES256", false)]
    [InlineData("Ed25519", false)]
    [InlineData("ES256", true)]
    public async Task NpmDpopClient_LogsInCallsAndRefreshes_AndItsReplayIsRefused(string alg, bool requireNonce)
    {
        await using var bouncer = new BouncerHost(("urls", "http://127.0.0.1:0"), ("Bouncer:PublicOrigin", null),
            ("Bouncer:Dpop:RequireNonce", requireNonce ? "true" : "false"));
        bouncer.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        bouncer.StartServer();
        var address = bouncer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        var result = await Task.Run(() => Node("flow", address, alg, "npm" + alg.ToLowerInvariant(), Passwords.Good));

        Assert.Equal((200, "DPoP"), (result.GetProperty("login").GetProperty("status").GetInt32(), result.GetProperty("login").GetProperty("token_type").GetString()));
        // The server's thumbprint of the client's key (cnf.jkt) is the package's own.
        Assert.Equal(result.GetProperty("thumbprint").GetString(),
            Jwt.Payload(result.GetProperty("access_token").GetString()!).GetProperty("cnf").GetProperty("jkt").GetString());
        Assert.Equal((200, "npm" + alg.ToLowerInvariant()), (result.GetProperty("me").GetProperty("status").GetInt32(), result.GetProperty("me").GetProperty("sub").GetString()));
        Assert.Equal(401, result.GetProperty("replay").GetProperty("status").GetInt32());
        Assert.Contains("dpop_proof_replayed", result.GetProperty("replay").GetProperty("challenge").GetString());
        Assert.Equal((200, "DPoP"), (result.GetProperty("refresh").GetProperty("status").GetInt32(), result.GetProperty("refresh").GetProperty("token_type").GetString()));
        Assert.Equal(200, result.GetProperty("refreshed_me").GetProperty("status").GetInt32());
        Assert.Equal(requireNonce, result.GetProperty("nonce_used").GetBoolean());
    }

    [Fact]
    public void NpmDpopThumbprint_OfATestKey_IsTheServers()
    {
        using var es = DpopClient.Es256();
        using var ed = DpopClient.EdDsa();
        foreach (var key in new[] { es, ed })
        {
            var validator = new Bouncer.Dpop.DpopProofValidator(new Bouncer.Dpop.DpopOptions());
            var accepted = validator.Validate(key.Proof("GET", "https://api.example/x"), "GET", "https://api.example/x", null, null);
            Assert.True(accepted.IsValid, accepted.Failure);
            Assert.Equal(accepted.Thumbprint, Node("thumbprint", key.Jwk.ToJsonString()).GetProperty("thumbprint").GetString());
        }
    }
}
