using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Tests.Checkpoints;

public sealed class SafetensorsWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oqvl-st-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static List<SafetensorsTensorSource> AllDtypes()
    {
        string[] dtypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];
        var list = new List<SafetensorsTensorSource>();
        for (int i = 0; i < dtypes.Length; i++)
        {
            long[] shape = [2, 3 + i];
            int n = (int)(shape[0] * shape[1]) * SafetensorsEntry.ElementSize(dtypes[i]);
            var bytes = RandomBytes(n, i);
            if (dtypes[i] == "BOOL") for (int k = 0; k < bytes.Length; k++) bytes[k] &= 1;
            list.Add(SafetensorsTensorSource.FromBytes($"t.{dtypes[i].ToLowerInvariant()}", dtypes[i], shape, bytes));
        }
        list.Add(SafetensorsTensorSource.FromBytes("empty", "F32", [0, 4], []));
        list.Add(SafetensorsTensorSource.FromBytes("scalar", "F32", [], BitConverter.GetBytes(1.5f)));
        return list;
    }

    [Fact]
    public void RoundTripKeepsEveryDtypeShapeByteAndMetadata()
    {
        var path = Path.Combine(_dir, "a.safetensors");
        var tensors = AllDtypes();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "a+b <c>" };
        SafetensorsWriter.Write(path, tensors, meta);

        using var f = SafetensorsFile.Open(path);
        Assert.Equal(meta, f.Metadata);
        Assert.Equal(tensors.Count, f.Entries.Count);
        foreach (var t in tensors)
        {
            var e = f[t.Name];
            Assert.Equal(t.DType, e.DType);
            Assert.Equal(t.Shape, e.Shape);
            using var ms = new MemoryStream();
            t.WriteData(ms);
            Assert.Equal(ms.ToArray(), f.Bytes(e).ToArray());
        }
    }

    [Fact]
    public void HeaderLayoutFollowsTheSafetensorsSpec()
    {
        var path = Path.Combine(_dir, "b.safetensors");
        var tensors = AllDtypes();
        SafetensorsWriter.Write(path, tensors);
        var file = File.ReadAllBytes(path);

        long n = BinaryPrimitives.ReadInt64LittleEndian(file);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(file, 8, (int)n);
        var json = header.TrimEnd(' ');
        Assert.True(header[json.Length..].All(c => c == ' '), "header is padded with spaces only");
        Assert.True(n - json.Length < 8);

        using var doc = JsonDocument.Parse(json);
        var props = doc.RootElement.EnumerateObject().ToList();
        Assert.Equal("__metadata__", props[0].Name);
        Assert.Equal("pt", props[0].Value.GetProperty("format").GetString());

        // Tensors: element size never increases, names ascending within a dtype; offsets back to back from 0 to the end of the file, each aligned.
        var entries = props.Skip(1).Select(p => (p.Name, DType: p.Value.GetProperty("dtype").GetString()!,
            Offs: p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray())).ToList();
        for (int i = 1; i < entries.Count; i++)
        {
            Assert.True(SafetensorsEntry.ElementSize(entries[i].DType) <= SafetensorsEntry.ElementSize(entries[i - 1].DType));
            if (entries[i].DType == entries[i - 1].DType) Assert.True(string.CompareOrdinal(entries[i - 1].Name, entries[i].Name) < 0);
        }
        long expect = 0;
        foreach (var e in entries)
        {
            Assert.Equal(expect, e.Offs[0]);
            Assert.Equal(0, e.Offs[0] % SafetensorsEntry.ElementSize(e.DType));
            expect = e.Offs[1];
        }
        Assert.Equal(file.Length - 8 - n, expect);
    }

    [Fact]
    public void WrongByteCountFailsAndLeavesNoFile()
    {
        var path = Path.Combine(_dir, "c.safetensors");
        var bad = new SafetensorsTensorSource("x", "F32", [4], s => s.Write(new byte[12]));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [bad]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void OverwriteIsAtomicReplacement()
    {
        var path = Path.Combine(_dir, "d.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensorSource.FromBytes("a", "U8", [1], [7])]);
        SafetensorsWriter.Write(path, [SafetensorsTensorSource.FromBytes("b", "U8", [2], [8, 9])]);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(["b"], f.Entries.Select(e => e.Name));
        Assert.Single(Directory.EnumerateFileSystemEntries(_dir));
    }
}
