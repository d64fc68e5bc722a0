using System.Text;

namespace Bouncer.Stores.Tests;

/// <summary>
/// Redis Cluster's key-to-slot function, from the Cluster specification: CRC16 (XMODEM) of the key, or of
/// its hash tag (the bytes between the first '{' and the next '}', when not empty), mod 16384.
/// StackExchange.Redis computes this only on a Cluster connection (its HashSlot gives -1 on a standalone
/// server, and ServerSelectionStrategy is internal), so the tests carry their own, checked against the
/// specification's examples.
/// </summary>
public static class RedisClusterSlot
{
    public const int Count = 16384;

    public static int Of(string key) => Of(Encoding.UTF8.GetBytes(key));

    public static int Of(ReadOnlySpan<byte> key)
    {
        var open = key.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = key[(open + 1)..].IndexOf((byte)'}');
            if (close > 0) key = key.Slice(open + 1, close);
        }
        return Crc16(key) % Count;
    }

    private static int Crc16(ReadOnlySpan<byte> data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            crc &= 0xFFFF;
        }
        return crc;
    }
}
