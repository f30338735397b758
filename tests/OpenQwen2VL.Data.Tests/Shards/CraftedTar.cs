using System.Text;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Shards;

/// <summary>Raw tar bytes written by hand, for headers no tar writer would produce (sizes of gigabytes, odd types).</summary>
internal static class CraftedTar
{
    /// <summary>One 512-byte header; <paramref name="gnu"/> selects the GNU magic, and a size over 8 GiB uses base-256 as GNU tar does.</summary>
    public static byte[] Header(string name, char type, long size, bool gnu = false)
    {
        var h = new byte[512];
        Encoding.ASCII.GetBytes(name).AsSpan(0, Math.Min(name.Length, 100)).CopyTo(h);
        Octal(h, 100, 8, 0b110_100_100);
        Octal(h, 108, 8, 0);
        Octal(h, 116, 8, 0);
        if (size < (1L << 33)) Octal(h, 124, 12, size);
        else
        {
            h[124] = 0x80; // base-256: big-endian in the remaining 11 bytes
            for (int i = 0; i < 8; i++) h[135 - i] = (byte)(size >> (8 * i));
        }
        Octal(h, 136, 12, 0);
        h[156] = (byte)type;
        Encoding.ASCII.GetBytes(gnu ? "ustar  \0" : "ustar\000").CopyTo(h, 257);
        h.AsSpan(148, 8).Fill((byte)' ');
        int sum = h.Sum(b => (int)b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(h, 148);
        return h;
    }

    private static void Octal(byte[] h, int at, int width, long value) =>
        Encoding.ASCII.GetBytes(Convert.ToString(value, 8).PadLeft(width - 1, '0') + "\0").CopyTo(h, at);

    /// <summary>A shard of <paramref name="count"/> good samples (k0, k1, ...) without its end-of-archive blocks, so more can follow.</summary>
    public static byte[] GoodSamplesOpenEnded(string dir, int count, Func<int, Dictionary<string, ReadOnlyMemory<byte>>> sample)
    {
        var path = Path.Combine(dir, $"good-{Guid.NewGuid():N}.tmpdata");
        using (var w = new WebDatasetWriter(path))
            for (int i = 0; i < count; i++) w.Write($"k{i}", sample(i));
        var bytes = File.ReadAllBytes(path);
        File.Delete(path);
        Assert.True(bytes.AsSpan(bytes.Length - 1024).IndexOfAnyExcept((byte)0) < 0, "TarWriter ends with two zero blocks");
        return bytes[..^1024];
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
