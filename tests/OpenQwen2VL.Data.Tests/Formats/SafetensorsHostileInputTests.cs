using System.Buffers.Binary;
using System.Text;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Crafted safetensors files (written byte by byte here) must be refused in one line naming the file and the problem,
/// before any out-of-bounds read or header-sized allocation.
/// </summary>
public sealed class SafetensorsHostileInputTests
{
    /// <summary>8-byte little-endian header length, the header text, then <paramref name="dataBytes"/> bytes of data.</summary>
    private static string Craft(TempDir tmp, string header, int dataBytes = 16, ulong? headerLength = null, string name = "model.safetensors")
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        for (int i = 8 + json.Length; i < bytes.Length; i++) bytes[i] = (byte)i;
        var path = tmp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Refused(string path, string fragment)
    {
        var e = Assert.Throws<InvalidDataException>(() => { using var f = SafetensorsFile.Open(path); });
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.Contains(fragment, e.Message);
        return e.Message;
    }

    private static string Tensor(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    [Theory]
    // Negative offsets once read before the data section (the header, or before the mapping: an access violation).
    [InlineData("[-8,-4]", "data offset -8 is not a non-negative integer")]
    [InlineData("[-1000000000,-999999996]", "not a non-negative integer")]
    [InlineData("[8,4]", "end before they begin")]
    [InlineData("[16,20]", "run past the data section (16 bytes)")]
    [InlineData("[0,8]", "hold 8 bytes, but F32 [1] needs 4")]
    [InlineData("[0.0,4.0]", "is not a non-negative integer")]
    [InlineData("[0,\"4\"]", "is not a non-negative integer")]
    [InlineData("[0]", "data_offsets is not an array [begin, end]")]
    public void OffsetsOutsideTheDataSectionOrNotMatchingTheShapeAreRefused(string offsets, string fragment)
    {
        using var tmp = new TempDir();
        var msg = Refused(Craft(tmp, "{" + Tensor("w", "F32", "[1]", offsets) + "}"), fragment);
        Assert.Contains("tensor w", msg);
    }

    [Fact]
    public void OverlappingTensorsAreRefused()
    {
        using var tmp = new TempDir();
        var path = Craft(tmp, "{" + Tensor("a", "F32", "[2]", "[0,8]") + "," + Tensor("b", "F32", "[2]", "[4,12]") + "}");
        Refused(path, "tensors a [0, 8) and b [4, 12) overlap");
    }

    [Fact]
    public void EmptyTensorsAndAdjacentTensorsAreNotOverlaps()
    {
        using var tmp = new TempDir();
        var path = Craft(tmp, "{" + Tensor("a", "F32", "[2]", "[0,8]") + "," + Tensor("b", "F32", "[2]", "[8,16]") + ","
            + Tensor("e", "F32", "[0,3]", "[4,4]") + "}");
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(3, f.Entries.Count);
        Assert.Equal(f.FileLength - 8, f["b"].Offset);
    }

    [Theory]
    [InlineData("[-1]", "shape dimension -1 is not a non-negative integer")]
    [InlineData("[1.5]", "shape dimension 1.5 is not")]
    [InlineData("\"[1]\"", "shape is a JSON string, not an array")]
    [InlineData("[4611686018427387904,4]", "overflows a 64-bit byte count")]
    [InlineData("[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "33 dimensions")]
    public void BadShapesAreRefused(string shape, string fragment)
    {
        using var tmp = new TempDir();
        Refused(Craft(tmp, "{" + Tensor("w", "F32", shape, "[0,4]") + "}"), fragment);
    }

    [Theory]
    [InlineData("[1,2,3]", "the header is a JSON array, not an object")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", "__metadata__[format] is a JSON number, not a string")]
    [InlineData("{\"__metadata__\":[\"pt\"]}", "__metadata__ is a JSON array")]
    [InlineData("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor w: no dtype")]
    [InlineData("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", "tensor w: unknown dtype 'F33'")]
    [InlineData("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype is a JSON number")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "tensor w: no shape")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "tensor w: no data_offsets")]
    [InlineData("{\"w\":7}", "tensor w: a JSON number, not an object")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "'w' appears twice")]
    [InlineData("{\"w\":", "the header is not valid JSON")]
    [InlineData("\u00ff\u00fe", "the header is not valid JSON")]
    public void MalformedHeadersAreOneLine(string header, string fragment)
    {
        using var tmp = new TempDir();
        Refused(Craft(tmp, header), fragment);
    }

    [Theory]
    [InlineData(0x7FFFFFFFFFFFFFF8UL, "bad safetensors header length 9223372036854775800")]
    [InlineData(0xFFFFFFFFFFFFFFFFUL, "bad safetensors header length 18446744073709551615")]
    [InlineData(0UL, "bad safetensors header length 0")]
    [InlineData(100_000_001UL, "bad safetensors header length 100000001")]
    [InlineData(4096UL, "exceeds the file")]
    public void HeaderLengthsBeyondTheLimitOrTheFileAreRefusedBeforeAllocating(ulong length, string fragment)
    {
        using var tmp = new TempDir();
        Refused(Craft(tmp, "{}", dataBytes: 0, headerLength: length), fragment);
    }

    [Fact]
    public void AFileShorterThanTheLengthPrefixIsRefused()
    {
        using var tmp = new TempDir();
        var path = tmp.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Refused(path, "too short");
    }

    private static void WriteReal(string path, string name, float value) =>
        SafetensorsWriter.Write(path, [SafetensorsTensorSource.FromBytes(name, "F32", [1], BitConverter.GetBytes(value))]);

    [Fact]
    public void ASymlinkedCheckpointReadsItsTarget()
    {
        // An HF hub snapshot: snapshots/<rev>/model.safetensors -> ../../blobs/<hash>.
        using var tmp = new TempDir();
        var blobs = Directory.CreateDirectory(tmp.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(tmp.File(Path.Combine("snapshots", "rev"))).FullName;
        WriteReal(Path.Combine(blobs, "abc123"), "w", 2.5f);
        File.CreateSymbolicLink(Path.Combine(snapshot, SafetensorsIndex.SingleFileName), Path.Combine("..", "..", "blobs", "abc123"));

        using var ck = SafetensorsCheckpoint.Open(snapshot);
        var (file, entry) = ck["w"];
        Assert.Equal(new FileInfo(Path.Combine(blobs, "abc123")).Length, file.FileLength);
        Assert.Equal([2.5f], file.ReadFloat32(entry.Name));
    }

    [Fact]
    public void ASymlinkedShardedCheckpointReadsItsTargets()
    {
        using var tmp = new TempDir();
        var blobs = Directory.CreateDirectory(tmp.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(tmp.File(Path.Combine("snapshots", "rev"))).FullName;
        string shard0 = SafetensorsIndex.ShardFileName(0, 2), shard1 = SafetensorsIndex.ShardFileName(1, 2);
        WriteReal(Path.Combine(blobs, "h0"), "a", 1f);
        WriteReal(Path.Combine(blobs, "h1"), "b", 2f);
        new SafetensorsIndex(8, new Dictionary<string, string> { ["a"] = shard0, ["b"] = shard1 }).Write(Path.Combine(blobs, "hidx"));
        foreach (var (link, blob) in new[] { (shard0, "h0"), (shard1, "h1"), (SafetensorsIndex.FileName, "hidx") })
            File.CreateSymbolicLink(Path.Combine(snapshot, link), Path.Combine("..", "..", "blobs", blob));

        using var ck = SafetensorsCheckpoint.Open(snapshot);
        Assert.Equal(2, ck.Count);
        Assert.Equal([1f], ck["a"].File.ReadFloat32("a"));
        Assert.Equal([2f], ck["b"].File.ReadFloat32("b"));
        // The index file itself, named through its link, works too.
        using var again = SafetensorsCheckpoint.Open(Path.Combine(snapshot, SafetensorsIndex.FileName));
        Assert.Equal(2, again.Count);
    }

    [Theory]
    [InlineData("[1]", "not a JSON object")]
    [InlineData("{\"weight_map\":{\"a\":3}}", "weight_map[a] is not a file name")]
    [InlineData("{\"weight_map\":{\"a\":\"..\"}}", "is not a file in the index's folder")]
    [InlineData("{\"weight_map\":{\"a\":\"../x.safetensors\"}}", "is not a file in the index's folder")]
    [InlineData("{\"metadata\":{\"total_size\":1.5},\"weight_map\":[]}", "no weight_map object")]
    [InlineData("{\"weight_map\":", "is not valid JSON")]
    public void MalformedIndexesAreOneLine(string json, string fragment)
    {
        using var tmp = new TempDir();
        var path = tmp.File(SafetensorsIndex.FileName);
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsIndex.Read(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void AnOversizedIndexIsRefusedBeforeReading()
    {
        using var tmp = new TempDir();
        var path = tmp.File(SafetensorsIndex.FileName);
        using (var fs = File.Create(path)) fs.SetLength(SafetensorsIndex.MaxIndexBytes + 1);   // sparse: costs no disk
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsIndex.Read(path));
        Assert.Contains("too large for a safetensors index", e.Message);
    }

    [Fact]
    public void ATensorNameThatIsNotUtf8IsRefused()
    {
        // Found by fuzzing (fuzz/run safetensors): a 0xFF byte inside a name passed the JSON parser and threw
        // InvalidOperationException when the name was read.
        using var tmp = new TempDir();
        var path = Craft(tmp, "{" + Tensor("w\u0001", "F32", "[1]", "[0,4]") + "}");
        var bytes = File.ReadAllBytes(path);
        bytes[Array.IndexOf(bytes, (byte)1, 8)] = 0xFF;
        File.WriteAllBytes(path, bytes);
        Refused(path, "the header is not valid UTF-8 text");
    }
}
