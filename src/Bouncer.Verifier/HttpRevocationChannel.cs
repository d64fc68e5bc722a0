using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bouncer.Revocation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bouncer.Verifier;

/// <summary>
/// The revocation feed of a Bouncer server (<c>GET /auth/revocations?after={cursor}&amp;wait={seconds}</c>) as an
/// <see cref="IRevocationChannel"/>, for a <see cref="RevocationListener"/> in a service that shares no store with the
/// server. The log is the server's; pushes are a long-poll loop that resumes from its cursor after any failure, and the
/// listener replays from its own cursor on every (re)connection, so a dropped connection never loses a revocation.
/// Read-only: a downstream never publishes. Thread-safe.
/// </summary>
/// <example><code>
/// var channel = new HttpRevocationChannel(http, new Uri("http://auth.internal:5000/auth/revocations"));
/// await using var listener = new RevocationListener(channel, new RevocationOptions());
/// await listener.StartAsync(ct);
/// </code></example>
public sealed class HttpRevocationChannel : IRevocationChannel
{
    private readonly HttpClient _http;
    private readonly string? _feedKey;
    private readonly Uri _feed;
    private readonly TimeSpan _wait;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="http">Used for every call; its own Timeout should be infinite (each call sets its own deadline).</param>
    /// <param name="feed">The feed URL, e.g. <c>http://auth.internal:5000/auth/revocations</c>.</param>
    /// <param name="longPollWait">How long the server may hold one poll. Default 25 s.</param>
    /// <param name="timeout">Deadline of each call on top of the wait. Default 10 s.</param>
    /// <param name="feedKey">Sent as <c>X-Bouncer-Feed-Key</c> when the server sets <c>Bouncer:RevocationFeedKey</c>.</param>
    public HttpRevocationChannel(HttpClient http, Uri feed, TimeSpan? longPollWait = null, TimeSpan? timeout = null,
        TimeProvider? time = null, ILogger<HttpRevocationChannel>? logger = null, string? feedKey = null)
    {
        _feedKey = feedKey;
        _http = http ?? throw new ArgumentNullException(nameof(http));
        _feed = feed ?? throw new ArgumentNullException(nameof(feed));
        _wait = longPollWait ?? TimeSpan.FromSeconds(25);
        _timeout = timeout ?? TimeSpan.FromSeconds(10);
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Not supported: revocations are published by the Bouncer server only.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public ValueTask<long> PublishAsync(RevocationRecord revocation, CancellationToken ct) =>
        throw new NotSupportedException("A downstream verifier never publishes revocations: revoke on the Bouncer server.");

    /// <summary>
    /// One immediate read of the server's log (<c>wait=0</c>). Network and HTTP failures throw
    /// (<see cref="HttpRequestException"/>, <see cref="TaskCanceledException"/> on timeout): the listener then treats its
    /// state as unverified.
    /// </summary>
    public async ValueTask<IReadOnlyList<RevocationEntry>> ReadAfterAsync(long cursor, int max, CancellationToken ct)
    {
        var page = await FetchAsync(cursor, TimeSpan.Zero, ct).ConfigureAwait(false);
        return page.Count <= max ? page : page.GetRange(0, max);
    }

    /// <summary>
    /// Starts the long-poll loop. The first poll does not wait, so <see cref="IRevocationSubscriber.OnConnected"/> comes
    /// as soon as the server answers; a failed poll calls <see cref="IRevocationSubscriber.OnDisconnected"/> and retries
    /// with backoff (up to 2 s) from the same cursor. Dispose the result to stop the loop.
    /// </summary>
    public ValueTask<IAsyncDisposable> SubscribeAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        var stop = new CancellationTokenSource();
        var loop = Task.Run(() => PollAsync(subscriber, stop.Token), CancellationToken.None);
        return ValueTask.FromResult<IAsyncDisposable>(new Subscription(stop, loop));
    }

    /// <summary>Nothing to prune: the log lives on the server, which prunes it. Returns 0.</summary>
    public ValueTask<int> PruneAsync(DateTimeOffset now, CancellationToken ct) => ValueTask.FromResult(0);

    private async Task PollAsync(IRevocationSubscriber subscriber, CancellationToken ct)
    {
        long cursor = 0;
        bool connected = false;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var page = await FetchAsync(cursor, connected ? _wait : TimeSpan.Zero, ct).ConfigureAwait(false);
                if (!connected)
                {
                    connected = true;
                    backoff = TimeSpan.FromMilliseconds(100);
                    subscriber.OnConnected();
                }
                foreach (var entry in page)
                {
                    subscriber.OnPushed(entry);
                    cursor = Math.Max(cursor, entry.Cursor);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (connected)
                {
                    connected = false;
                    subscriber.OnDisconnected();
                }
                _logger.FeedPollFailed(ex);
                try { await Task.Delay(backoff, _time, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    private async Task<List<RevocationEntry>> FetchAsync(long cursor, TimeSpan wait, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(wait + _timeout);
        var url = new Uri(_feed, string.Create(CultureInfo.InvariantCulture,
            $"{_feed.AbsolutePath}?after={cursor}&wait={(int)wait.TotalSeconds}&heartbeat=1"));
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (_feedKey is not null) request.Headers.Add("X-Bouncer-Feed-Key", _feedKey);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        FeedPage? page;
        if (response.Headers.Contains(FeedHeartbeatHeader))
        {
            // The server sends a byte every second while it holds the answer: silence for longer means the
            // connection hung (a reset would have failed the read), and the poll fails now, not at its deadline.
            await using var body = new SilenceLimitedStream(await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false), HeartbeatSilence);
            page = await JsonSerializer.DeserializeAsync<FeedPage>(body, cancellationToken: deadline.Token).ConfigureAwait(false);
        }
        else
        {
            page = await response.Content.ReadFromJsonAsync<FeedPage>(deadline.Token).ConfigureAwait(false);
        }
        if (page is null) throw new InvalidDataException("the revocation feed answered null");
        var entries = new List<RevocationEntry>(page.Revocations?.Count ?? 0);
        foreach (var e in page.Revocations ?? [])
        {
            RevocationKind kind = e.Kind switch
            {
                "session" => RevocationKind.Session,
                "token" => RevocationKind.Token,
                "user" => RevocationKind.User,
                "everyone" => RevocationKind.Everyone,
                "key" => RevocationKind.Key,
                // An unknown kind from a newer server cannot be applied; failing the page makes the loop retry
                // (and the listener go stale) rather than silently skip a revocation.
                _ => throw new InvalidDataException($"unknown revocation kind '{e.Kind}'"),
            };
            if (string.IsNullOrEmpty(e.Subject)) throw new InvalidDataException("a revocation without subject");
            entries.Add(new RevocationEntry(e.Cursor, new RevocationRecord(kind, e.Subject,
                DateTimeOffset.FromUnixTimeMilliseconds(e.At), DateTimeOffset.FromUnixTimeMilliseconds(e.ExpiresAt))));
        }
        return entries;
    }

    private const string FeedHeartbeatHeader = "Bouncer-Feed-Heartbeat";

    /// <summary>Longest gap between heartbeats (sent every second) before a held poll counts as hung.</summary>
    internal static readonly TimeSpan HeartbeatSilence = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A read-only stream whose reads fail with <see cref="TimeoutException"/> after <c>silence</c> without a byte,
    /// armed by the first byte: a proxy that buffers the answer (and so swallows the beats) delivers nothing until the
    /// end, and the poll then falls back to its overall deadline instead of failing every few seconds.
    /// </summary>
    private sealed class SilenceLimitedStream(Stream inner, TimeSpan silence) : Stream
    {
        private bool _armed;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_armed)
            {
                int first = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                _armed = first > 0;
                return first;
            }
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            quiet.CancelAfter(silence);
            try
            {
                return await inner.ReadAsync(buffer, quiet.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"the revocation feed sent nothing for {silence.TotalSeconds:0} s");
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record FeedPage(
        [property: JsonPropertyName("cursor")] long Cursor,
        [property: JsonPropertyName("revocations")] List<FeedEntry>? Revocations);

    private sealed record FeedEntry(
        [property: JsonPropertyName("cursor")] long Cursor,
        [property: JsonPropertyName("kind")] string? Kind,
        [property: JsonPropertyName("subject")] string? Subject,
        [property: JsonPropertyName("at")] long At,
        [property: JsonPropertyName("expires_at")] long ExpiresAt);

    private sealed class Subscription(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
            stop.Dispose();
        }
    }
}
