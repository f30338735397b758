using System.IO.Compression;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Checkpoints.TorchSaveTestArchive;

namespace OpenQwen2VL.Tests.Checkpoints;

[Collection(TorchGlobalState.Name)]
public sealed class PrismaticCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oqvl-pt-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Seq<T>(int n, Func<int, T> f) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Range(0, n).Select(f).ToArray().AsSpan()).ToArray();

    // Storages in four dtypes; views with offsets, transposes, slices, and two views of one storage.
    private static readonly TestStorage F32 = new("0", "FloatStorage", 12, Seq(12, i => i * 0.5f - 2f));
    private static readonly TestStorage Bf16 = new("1", "BFloat16Storage", 20, Seq(20, i => (ushort)(BitConverter.SingleToInt32Bits(i * 0.25f + 1f) >> 16)));
    private static readonly TestStorage F16 = new("2", "HalfStorage", 6, Seq(6, i => (Half)(i - 2.5f)));
    private static readonly TestStorage I64 = new("3", "LongStorage", 7, Seq(7, i => (long)i * 1_000_000_007L - 3));

    private static readonly (string, View)[] ProjectorViews = [("projector.0.weight", new View(F32, 0, [3, 4], [4, 1]))];
    private static readonly (string, View)[] LlmViews =
    [
        ("llm.transposed", new View(F32, 0, [4, 3], [1, 4])),
        ("llm.slice_bf16", new View(Bf16, 5, [2, 3], [6, 1])),
        ("llm.column_bf16", new View(Bf16, 1, [4], [5])),
        ("llm.half", new View(F16, 0, [2, 3], [3, 1])),
        ("llm.ids", new View(I64, 2, [5], [1])),
        ("llm.scalar", new View(F32, 7, [], [])),
        ("llm.empty", new View(F32, 0, [0, 3], [3, 1])),
    ];

    private static double[] Doubles(Tensor t)
    {
        using var c = t.contiguous();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(c.bytes).ToArray();
    }

    /// <summary>Naive strided gather in float64: element (i, j, ...) = storage[offset + Σ index·stride].</summary>
    private static double[] Expected(View v)
    {
        double At(long k) => v.Storage.StorageClass switch
        {
            "FloatStorage" => BitConverter.ToSingle(v.Storage.Bytes, (int)k * 4),
            "BFloat16Storage" => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(v.Storage.Bytes, (int)k * 2) << 16),
            "HalfStorage" => (double)BitConverter.ToHalf(v.Storage.Bytes, (int)k * 2),
            "LongStorage" => BitConverter.ToInt64(v.Storage.Bytes, (int)k * 8),
            _ => throw new NotSupportedException(),
        };
        long n = v.Shape.Aggregate(1L, (a, b) => a * b);
        var result = new double[n];
        for (long flat = 0; flat < n; flat++)
        {
            long rem = flat, k = v.Offset;
            for (int d = v.Shape.Length - 1; d >= 0; d--) { k += rem % v.Shape[d] * v.Stride[d]; rem /= v.Shape[d]; }
            result[flat] = At(k);
        }
        return result;
    }

    private string WriteSynthetic(CompressionLevel level)
    {
        var w = new TorchSaveTestArchive();
        w.PrismaticRoot(ProjectorViews, LlmViews);
        var path = Path.Combine(_dir, PrismaticCheckpoint.FileName);
        w.Save(path, "prismatic-checkpoint", level);
        return path;
    }

    [Theory]
    [InlineData(CompressionLevel.NoCompression)]
    [InlineData(CompressionLevel.Optimal)]
    public void StridedViewsOffsetsAndDtypesMatchANaiveGather(CompressionLevel level)
    {
        using var ck = PrismaticCheckpoint.Open(WriteSynthetic(level));
        Assert.Equal(["mlp_projector.0.weight"], ck.Projector.Names);
        Assert.Equal(LlmViews.Select(v => v.Item1["llm.".Length..]).Order(), ck.Llm.Names.Order());
        foreach (var (name, view) in ProjectorViews.Select(p => ("mlp_projector.0.weight", p.Item2)).Concat(LlmViews.Select(l => (l.Item1[4..], l.Item2))))
        {
            var source = name.StartsWith("mlp_projector") ? ck.Projector : ck.Llm;
            using var t = source.Read(name);
            Assert.Equal(view.Shape, t.shape);
            Assert.Equal(TorchSaveArchive.StorageDType(view.Storage.StorageClass), SafetensorsTensors.ToDType(t.dtype));
            using var asDouble = t.to(ScalarType.Float64);
            Assert.Equal(Expected(view), Doubles(asDouble));
        }
    }

    [Fact]
    public void LoaderFillsAModuleFromTheArchive()
    {
        using var ck = PrismaticCheckpoint.Open(Path.Combine(WriteSynthetic(CompressionLevel.NoCompression)));
        using var module = CheckpointModule.ShapedLike(ck.Llm, ScalarType.Float32);
        var report = CheckpointLoader.LoadInto(module, ck.Llm, ScalarType.Float32, CPU);
        Assert.True(report.IsComplete);
        var byName = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, view) in LlmViews)
        {
            var p = byName[key[4..]];
            Assert.Equal(view.Storage.StorageClass == "LongStorage" ? ScalarType.Int64 : ScalarType.Float32, p.dtype);
            using var d = p.to(ScalarType.Float64);
            Assert.Equal(Expected(view), Doubles(d));
        }
    }

    [Fact]
    public void AViewSpreadOverAHugeStorageIsRefusedBeforeAllocatingItsSpan()
    {
        // 4 bytes of a 600 MB storage (a hole in a sparse file): [[s0, s1], [s300M, s300M+1]]. Reading it would need a
        // 300 MB temporary for 4 elements; the span is refused instead, before anything is allocated or read.
        const long half = 300_000_000;
        var pickle = CraftedPickle.StateDict(("w", p => p.Tensor("0", "ByteStorage", 2 * half, 0, [2, 2], [half, 1])));
        var path = Path.Combine(_dir, "sparse-view.pt");
        CraftedZip.TorchSave(pickle).AddSparse("archive/data/0", 2 * half, []).Save(path);
        using var archive = TorchSaveArchive.Open(path);
        var tensors = new TorchSaveTensors(archive, archive.Tensors());
        using var target = zeros([2, 2], ScalarType.Byte);
        var e = Assert.Throws<InvalidDataException>(() => tensors.CopyInto("w", target));
        Assert.Contains("spanning 300000002 elements", e.Message);
    }

    [Fact]
    public void NotAZipFileIsAClearError()
    {
        var path = Path.Combine(_dir, "legacy.pt");
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a]);
        var e = Assert.Throws<InvalidDataException>(() => PrismaticCheckpoint.Open(path));
        Assert.Contains("zip", e.Message);
    }
}
