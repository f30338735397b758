using System.Diagnostics;
using System.Numerics;
using System.Text;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>torch.save archives crafted byte by byte: every bad one is one InvalidDataException line naming the file.</summary>
public sealed class TorchSaveArchiveTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static byte[] Floats(int n) => new byte[n * 4];

    private string Write(CraftedZip zip, string name = "crafted.pt")
    {
        string path = _dir.File(name);
        zip.Save(path);
        return path;
    }

    private static string Refused(string path, Action<TorchSaveArchive>? use = null)
    {
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            using var archive = TorchSaveArchive.Open(path);
            use?.Invoke(archive);
        });
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Length < 400, e.Message);
        Assert.StartsWith(path + ": ", e.Message);
        return e.Message;
    }

    private static byte[] OneTensor(long numel, long offset, long[] shape, long[] stride, string storageClass = "FloatStorage", Func<CraftedPickle, long, CraftedPickle>? integer = null) =>
        CraftedPickle.StateDict(("w", p => p.Tensor("0", storageClass, numel, offset, shape, stride, integer)));

    [Fact]
    public void AWellFormedArchiveReads()
    {
        var data = new byte[24];
        for (int i = 0; i < 6; i++) BitConverter.TryWriteBytes(data.AsSpan(i * 4), i + 0.5f);
        string path = Write(CraftedZip.TorchSave(OneTensor(6, 1, [2, 2], [1, 2]), ("0", data)));
        using var archive = TorchSaveArchive.Open(path);
        var t = archive.Tensors()["w"];
        Assert.Equal([2L, 2], t.Shape);
        var bytes = new byte[12];
        archive.ReadStorage(t.Storage, 4, 12, (pos, chunk) => chunk.CopyTo(bytes.AsSpan((int)pos)));
        Assert.Equal(1.5f, BitConverter.ToSingle(bytes, 0));
    }

    [Fact]
    public void ARootOfSharedTuplesIsReportedInOneShortLine()
    {
        // 124 bytes of DUP + TUPLE2 whose naive rendering is 2^60 leaves; the checkpoint lookup names the root.
        var pickle = new CraftedPickle().Op(0x80, 2).Op((byte)'K', 0).Repeat(60, (byte)'2', 0x86).Op('.').ToArray();
        string path = Write(CraftedZip.TorchSave(pickle));
        var sw = Stopwatch.StartNew();
        Assert.Contains("no 'model/projector'", Refused(path, a => a.Tensors("model", "projector")));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"{sw.Elapsed}");
        // As the persistent id of a storage, the same.
        var asPid = new CraftedPickle().Op(0x80, 2).Op((byte)'K', 0).Repeat(60, (byte)'2', 0x86).Op('Q').Op('.').ToArray();
        Assert.Contains("unexpected persistent id", Refused(Write(CraftedZip.TorchSave(asPid), "pid.pt")));
    }

    [Fact]
    public void TwoMillionNestedListsAreOneLineNotAStackOverflow()
    {
        const int n = 2_000_000;
        var pickle = new CraftedPickle().Repeat(n, (byte)'(').Op(']').Repeat(n, (byte)'l').Op('.').ToArray();
        Assert.Contains("nested more than", Refused(Write(CraftedZip.TorchSave(pickle))));
    }

    [Theory]
    [InlineData("archive/data.pkl")]
    [InlineData("archive/byteorder")]
    public void AnEntryDeclaringMoreThanItsLimitIsRefusedBeforeReading(string entry)
    {
        // A few compressed bytes declaring 600 MiB: refused on the declaration, nothing is decompressed.
        var pickle = CraftedPickle.StateDict();
        var zip = new CraftedZip();
        zip.Add("archive/data.pkl", pickle, deflate: true, declaredLength: entry.EndsWith("data.pkl", StringComparison.Ordinal) ? 600L << 20 : null);
        zip.Add("archive/byteorder", Encoding.ASCII.GetBytes("little"), deflate: true, declaredLength: entry.EndsWith("byteorder", StringComparison.Ordinal) ? 600L << 20 : null);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains($"{entry} declares {600L << 20} bytes", Refused(Write(zip)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void AStorageEntryDeclaringMoreThanTheFileHoldsIsRefused()
    {
        // 3 GB declared for a stored entry of 16 bytes (a 4 KB file): a strided view over it would allocate 3 GB.
        const long declared = 3_000_000_000;
        var pickle = OneTensor(declared / 4, 0, [2, 2], [declared / 8, 1]);
        var stored = CraftedZip.TorchSave(pickle).Add("archive/data/0", Floats(4), declaredLength: declared, declaredCompressedLength: declared);
        Assert.Contains("declares 3000000000 bytes", Refused(Write(stored)));
        // Deflated: 16 compressed bytes cannot expand to 3 GB.
        var deflated = CraftedZip.TorchSave(pickle).Add("archive/data/0", Floats(4), deflate: true, declaredLength: declared);
        Assert.Contains("declares 3000000000 bytes", Refused(Write(deflated, "deflated.pt")));
    }

    public static TheoryData<string, long, long, long[], long[], string> BadViews() => new()
    {
        { "furthest index = numel", 12, 1, [3, 4], [4, 1], "reaches element 12 of a storage of 12" },
        { "offset past the end", 12, 10, [3], [1], "reaches element 12" },
        { "empty view past the end", 12, 13, [0], [1], "reaches element 13" },
        { "negative offset", 12, -1, [2], [1], "negative" },
        { "negative stride", 12, 11, [2], [-1], "negative" },
        { "negative size", 12, 0, [-2], [1], "negative" },
        { "stride overflow", 12, 0, [3], [1L << 62], "overflows" },
        { "count overflow under zero strides", 12, 0, [1L << 33, 1L << 33], [0, 0], "overflows" },
        { "sizes and strides differ", 12, 0, [3, 4], [1], "2 sizes but 1 strides" },
        { "storage numel mismatch", 13, 0, [3], [1], "has 48 bytes, expected 52" },
        { "storage byte length overflow", long.MaxValue / 2, 0, [3], [1], "declares 4611686018427387903 elements" },
    };

    [Theory]
    [MemberData(nameof(BadViews))]
    public void ViewsOutsideTheirStorageAreRefusedAtOpen(string what, long numel, long offset, long[] shape, long[] stride, string why)
    {
        string message = Refused(Write(CraftedZip.TorchSave(OneTensor(numel, offset, shape, stride), ("0", Floats(12)))));
        Assert.True(message.Contains(why, StringComparison.Ordinal), $"{what}: {message}");
    }

    [Fact]
    public void StorageOffsetsAndSizesAbove2Pow31WrittenAsLong1Work()
    {
        // A 2 GiB + 16 byte storage (a hole in a sparse file, then 16 real bytes) and a view at 2^31 + 8, both written as
        // LONG1, as Python writes every int >= 2^31.
        const long hole = 1L << 31;
        var tail = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var pickle = OneTensor(hole + 16, hole + 8, [4], [1], "ByteStorage", (p, v) => p.Long1(v));
        string path = Write(CraftedZip.TorchSave(pickle).AddSparse("archive/data/0", hole, tail));
        using var archive = TorchSaveArchive.Open(path);
        var t = archive.Tensors()["w"];
        Assert.Equal(hole + 8, t.StorageOffset);
        Assert.Equal(hole + 16, t.Storage.ElementCount);
        Assert.Null(t.Validate());
        // The entry opens (its bytes at the view's offset are not read here: skipping 2 GiB of a zip stream takes a minute).
        var got = new byte[] { 7, 7, 7, 7 };
        archive.ReadStorage(t.Storage, 0, 4, (pos, chunk) => chunk.CopyTo(got.AsSpan((int)pos)));
        Assert.Equal(new byte[4], got);
    }

    [Fact]
    public void AnOffsetBeyondInt64IsOneLine()
    {
        var pickle = OneTensor(12, 0, [3], [1], integer: (p, v) => v == 0 ? p.Long1(BigInteger.One << 70) : p.Int(v));
        Assert.Contains("a storage offset (1180591620717411303424) does not fit in 64 bits", Refused(Write(CraftedZip.TorchSave(pickle, ("0", Floats(12))))));
    }

    [Fact]
    public void AGlobalOutsideTheTorchAllowListIsRefusedNamingTheFileAndTheGlobal()
    {
        var pickle = CraftedPickle.StateDict(("w", p => p.Global("posix", "system").Op('(').Str("touch pwned").Op('t').Op('R')));
        Assert.Contains("refusing global posix.system", Refused(Write(CraftedZip.TorchSave(pickle))));
        Assert.False(File.Exists("pwned"));
    }
}
