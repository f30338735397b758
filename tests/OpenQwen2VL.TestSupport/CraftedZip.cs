using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Writes a zip by hand (local headers, central directory, end record; no zip64), so a test controls what ZipArchive
/// would never write: declared sizes that lie, and multi-GB stored entries that are holes in a sparse file (no disk
/// space, no time). Entries are stored (method 0) or deflated (method 8).
/// </summary>
public sealed class CraftedZip
{
    private sealed record Entry(string Name, byte[] Data, bool Deflate, long? DeclaredLength, long? DeclaredCompressedLength, long HoleBytes);

    private readonly List<Entry> _entries = new();

    /// <summary>An entry holding <paramref name="data"/>; the declared sizes default to the true ones.</summary>
    public CraftedZip Add(string name, byte[] data, bool deflate = false, long? declaredLength = null, long? declaredCompressedLength = null)
    {
        _entries.Add(new Entry(name, data, deflate, declaredLength, declaredCompressedLength, 0));
        return this;
    }

    /// <summary>A stored entry of <paramref name="holeBytes"/> zero bytes (a hole in the file) followed by <paramref name="tail"/>. Its CRC is not computed: read it only partly.</summary>
    public CraftedZip AddSparse(string name, long holeBytes, byte[] tail)
    {
        _entries.Add(new Entry(name, tail, false, null, null, holeBytes));
        return this;
    }

    /// <summary>torch.save's layout: archive/data.pkl, archive/byteorder, then the given storages archive/data/KEY.</summary>
    public static CraftedZip TorchSave(byte[] pickle, params (string Key, byte[] Bytes)[] storages)
    {
        var zip = new CraftedZip().Add("archive/data.pkl", pickle).Add("archive/byteorder", Encoding.ASCII.GetBytes("little"));
        foreach (var (key, bytes) in storages) zip.Add($"archive/data/{key}", bytes);
        return zip;
    }

    public void Save(string path)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        var central = new MemoryStream();
        foreach (var e in _entries)
        {
            long offset = fs.Position;
            byte[] payload = e.Deflate ? Deflated(e.Data) : e.Data;
            long length = e.DeclaredLength ?? e.HoleBytes + e.Data.Length;
            long compressed = e.DeclaredCompressedLength ?? e.HoleBytes + payload.Length;
            uint crc = e.HoleBytes == 0 ? Crc32(e.Data) : 0;
            var name = Encoding.UTF8.GetBytes(e.Name);
            Header(fs, 0x04034b50, central: false, e.Deflate, crc, compressed, length, name, 0);
            if (e.HoleBytes > 0) fs.Seek(e.HoleBytes, SeekOrigin.Current);
            fs.Write(payload);
            Header(central, 0x02014b50, central: true, e.Deflate, crc, compressed, length, name, offset);
        }
        long cdOffset = fs.Position;
        central.Position = 0;
        central.CopyTo(fs);
        var end = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)central.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(16), checked((uint)cdOffset));
        fs.Write(end);
    }

    private static void Header(Stream s, uint signature, bool central, bool deflate, uint crc, long compressed, long length, byte[] name, long offset)
    {
        var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write(signature);
        if (central) w.Write((ushort)20);                   // version made by
        w.Write((ushort)20);                                // version needed
        w.Write((ushort)0);                                 // flags
        w.Write((ushort)(deflate ? 8 : 0));                 // method
        w.Write((ushort)0);                                 // time
        w.Write((ushort)0x21);                              // date: 1980-01-01
        w.Write(crc);
        w.Write(checked((uint)compressed));
        w.Write(checked((uint)length));
        w.Write((ushort)name.Length);
        w.Write((ushort)0);                                 // extra
        if (central)
        {
            w.Write((ushort)0);                             // comment
            w.Write((ushort)0);                             // disk
            w.Write((ushort)0);                             // internal attributes
            w.Write(0u);                                    // external attributes
            w.Write(checked((uint)offset));
        }
        w.Write(name);
        w.Flush();
    }

    private static byte[] Deflated(byte[] data)
    {
        var ms = new MemoryStream();
        using (var d = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true)) d.Write(data);
        return ms.ToArray();
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320 & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }
}
