using Bouncer.Diagnostics;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Bouncer.AspNetCore;

namespace Bouncer.Server;

/// <summary>
/// Serves the "Bouncer" meter's counters as Prometheus text at /metrics. A MeterListener keeps running
/// totals per counter and tag set; no exporter package needed for counters (OpenTelemetry can export the
/// same meter where a collector is used).
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Name, string Tags), long> _totals = new();

    /// <summary>Starts listening to Bouncer's instruments.</summary>
    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BouncerMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var labels = new StringBuilder();
            foreach (var tag in tags)
            {
                if (labels.Length > 0) labels.Append(',');
                labels.Append(tag.Key).Append("=\"").Append(Escape(tag.Value?.ToString() ?? "")).Append('"');
            }
            _totals.AddOrUpdate((instrument.Name, labels.ToString()), value, (_, total) => total + value);
        });
        _listener.Start();
    }

    /// <summary>The exposition text (format 0.0.4).</summary>
    public string Render()
    {
        var text = new StringBuilder();
        foreach (var group in _totals.GroupBy(kv => kv.Key.Name).OrderBy(g => g.Key))
        {
            var name = group.Key.Replace('.', '_') + "_total";
            text.Append("# TYPE ").Append(name).Append(" counter\n");
            foreach (var (key, value) in group.OrderBy(kv => kv.Key.Tags))
                text.Append(name).Append(key.Tags.Length > 0 ? "{" + key.Tags + "}" : "").Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return text.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    /// <summary>Stops listening to the instruments.</summary>
    public void Dispose() => _listener.Dispose();
}
