using System.Buffers.Binary;
using System.Text;

namespace OpenQwen2VL.Tests.Curation;

/// <summary>
/// Writes .npy files by the NumPy format specification (numpy/lib/format.py's write_array): magic, version, header
/// length, the header dict padded with spaces to a 64-byte boundary and '\n', then the data; here 128-bit uids as
/// DataComp's subsets hold them (upper, lower little-endian u8 per record). Every part can be set to lie.
/// </summary>
public static class CraftedNpy
{
    public const string UidRecords = "[('f0', '<u8'), ('f1', '<u8')]";

    public static byte[] Uids(string descr, string shape, IEnumerable<UInt128> uids, byte major = 1, string fortran = "False", int? dataBytes = null)
    {
        string dict = $"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}";
        int lengthBytes = major == 1 ? 2 : 4;
        int unpadded = 8 + lengthBytes + dict.Length + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add(major);
        bytes.Add(0);
        var length = new byte[lengthBytes];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        bytes.AddRange(length);
        bytes.AddRange(Encoding.Latin1.GetBytes(header));
        var data = new List<byte>();
        foreach (var uid in uids)
        {
            var record = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)(uid >> 64));
            BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(8), (ulong)uid);
            data.AddRange(record);
        }
        bytes.AddRange(dataBytes is int n ? data.Take(n) : data);
        return [.. bytes];
    }

    /// <summary>A DataComp subset: the structured u8,u8 array of shape (N,).</summary>
    public static byte[] Subset(IReadOnlyCollection<UInt128> uids) => Uids(UidRecords, $"({uids.Count},)", uids);
}
