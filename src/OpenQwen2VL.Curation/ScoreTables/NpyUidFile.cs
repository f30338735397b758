using System.Buffers.Binary;
using System.Text;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// Reads DataComp's subset files (.npy, NumPy format 1.0/2.0/3.0) of 128-bit uids: a structured array of dtype
/// <c>u8,u8</c> (<c>[('f0', '&lt;u8'), ('f1', '&lt;u8')]</c>, shape (N,)), f0 the upper and f1 the lower 64 bits, as the paper
/// used DFN's released subset; or a plain <c>&lt;u8</c> array of shape (N, 2) in C order. The header is checked whole
/// (its length, dtype, order, shape against the file's size) before anything is allocated, then the records are read
/// in bounded chunks. Anything else is a one-line <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class NpyUidFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>NumPy writes headers of some hundred bytes; a larger one is not a uid array.</summary>
    public const int MaxHeaderBytes = 1 << 16;

    private const int RecordBytes = 16;
    private const int ChunkRecords = 4096;

    /// <summary>The number of uids the file holds (its header checked against its size).</summary>
    public static long Count(string path)
    {
        using var file = RegularFile.OpenRead(path, "a .npy uid file");
        return ReadHeader(path, file);
    }

    /// <summary>Calls <paramref name="add"/> with every uid of the file, in order; returns how many.</summary>
    public static long Read(string path, Action<UInt128> add)
    {
        using var file = RegularFile.OpenRead(path, "a .npy uid file", 1 << 16);
        long count = ReadHeader(path, file);
        var chunk = new byte[ChunkRecords * RecordBytes];
        for (long done = 0; done < count;)
        {
            int records = (int)Math.Min(ChunkRecords, count - done);
            var span = chunk.AsSpan(0, records * RecordBytes);
            try { file.ReadExactly(span); }
            catch (EndOfStreamException) { throw new InvalidDataException($"{path}: the file ended inside its uid records"); }
            for (int r = 0; r < records; r++)
            {
                var record = span.Slice(r * RecordBytes, RecordBytes);
                add(new UInt128(BinaryPrimitives.ReadUInt64LittleEndian(record), BinaryPrimitives.ReadUInt64LittleEndian(record[8..])));
            }
            done += records;
        }
        return count;
    }

    /// <summary>Reads and checks the header, leaving the stream at the first record; returns the record count.</summary>
    private static long ReadHeader(string path, FileStream file)
    {
        Span<byte> prefix = stackalloc byte[12];
        int got = file.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (got < 8 || !prefix[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a .npy file (no \\x93NUMPY magic)");
        byte major = prefix[6];
        int lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw new InvalidDataException($"{path}: .npy format version {major}.{prefix[7]} is not supported (1.0, 2.0, 3.0 are)"),
        };
        if (got < 8 + lengthBytes) throw new InvalidDataException($"{path}: the .npy header is cut short");
        long headerLength = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
        long dataStart = 8 + lengthBytes + headerLength;
        if (headerLength > MaxHeaderBytes) throw new InvalidDataException($"{path}: the .npy header claims {headerLength} bytes (over {MaxHeaderBytes})");
        if (dataStart > file.Length) throw new InvalidDataException($"{path}: the .npy header claims {headerLength} bytes, past the end of the file");
        file.Position = 8 + lengthBytes;
        var headerBytes = new byte[headerLength];
        file.ReadExactly(headerBytes);
        string header;
        try { header = major == 3 ? new UTF8Encoding(false, true).GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes); }
        catch (DecoderFallbackException) { throw new InvalidDataException($"{path}: the .npy header is not UTF-8 text"); }

        Dictionary<string, object?> dict;
        try { dict = PythonLiteral.Parse(header.TrimEnd(' ', '\n', '\0')) as Dictionary<string, object?> ?? throw new FormatException("not a dict"); }
        catch (FormatException e) { throw new InvalidDataException($"{path}: the .npy header is not a NumPy header dict ({e.Message})"); }
        if (!dict.TryGetValue("descr", out var descr) || !dict.TryGetValue("shape", out var shapeValue) || !dict.TryGetValue("fortran_order", out var fortran)
            || dict.Count != 3 || fortran is not bool fortranOrder)
            throw new InvalidDataException($"{path}: the .npy header lacks descr, fortran_order or shape");
        if (shapeValue is not List<object?> shape || shape.Any(d => d is not long n || n < 0))
            throw new InvalidDataException($"{path}: the .npy shape is not a tuple of sizes");

        long count;
        if (descr is "<u8" && shape.Count == 2 && (long)shape[1]! == 2 && !fortranOrder) count = (long)shape[0]!;
        else if (IsUidRecord(descr) && shape.Count == 1) count = (long)shape[0]!;
        else
            throw new InvalidDataException($"{path}: a .npy of dtype {Describe(descr)}, shape ({string.Join(", ", shape)}){(fortranOrder ? ", Fortran order" : "")} "
                + "is no uid array (expected dtype [('f0', '<u8'), ('f1', '<u8')] of shape (N,), or '<u8' of shape (N, 2) in C order)");
        long dataBytes = file.Length - dataStart;
        if (count > long.MaxValue / RecordBytes || count * RecordBytes != dataBytes)
            throw new InvalidDataException($"{path}: the .npy header claims {count} uids ({(count > long.MaxValue / RecordBytes ? "too many" : $"{count * RecordBytes} bytes")}), the file holds {dataBytes} bytes of data");
        file.Position = dataStart;
        return count;
    }

    private static bool IsUidRecord(object? descr) =>
        descr is List<object?> { Count: 2 } fields
        && fields[0] is List<object?> { Count: 2 } f0 && f0[0] is "f0" && f0[1] is "<u8"
        && fields[1] is List<object?> { Count: 2 } f1 && f1[0] is "f1" && f1[1] is "<u8";

    private static string Describe(object? descr) => descr switch
    {
        string s => $"'{s}'",
        List<object?> list => "[" + string.Join(", ", list.Select(Describe)) + "]",
        null => "None",
        _ => descr.ToString() ?? "?",
    };
}
