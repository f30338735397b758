using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Checkpoints.CheckpointTestModules;

namespace OpenQwen2VL.Tests.Checkpoints;

[Collection(TorchGlobalState.Name)]
public sealed class CheckpointLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("oqvl-ck-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveThenLoadGivesIdenticalTensors()
    {
        using var src = Random(TinyLm, 1);
        var path = Path.Combine(_dir, "m.safetensors");
        SafetensorsExport.Save(src, path);
        using (var f = SafetensorsFile.Open(path)) Assert.Equal("pt", f.Metadata["format"]);

        using var dst = Create(TinyLm);
        var report = CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU);
        Assert.True(report.IsComplete);
        Assert.Equal(TinyLm.Length, report.Loaded.Count);
        var a = State(src);
        foreach (var (name, t) in State(dst)) Assert.Equal(Bytes(a[name]), Bytes(t));
    }

    [Fact]
    public void ShardedExportWritesIndexAndLoadsBackIdentical()
    {
        // Six equal tensors and room for two per shard: HF's greedy split gives exactly three shards.
        var layout = Enumerable.Range(0, 6).Select(i => ($"model.layers.{i}.mlp.up_proj.weight", new long[] { 16, 8 })).ToArray();
        using var src = Random(layout, 2);
        var state = State(src);
        long total = state.Values.Sum(t => t.NumberOfElements * 4);
        long limit = 2 * 16 * 8 * 4;
        var export = SafetensorsExport.SaveHfFolder(src, _dir, tieWordEmbeddings: false, maxShardBytes: limit);

        Assert.True(export.Sharded);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", SafetensorsIndex.FileName], export.Files);
        var index = SafetensorsIndex.Read(Path.Combine(_dir, SafetensorsIndex.FileName));
        Assert.Equal(total, index.TotalSize);
        Assert.Equal(state.Keys.Order(), index.WeightMap.Keys.Order());
        foreach (var shard in index.WeightMap.Values.Distinct())
        {
            using var f = SafetensorsFile.Open(Path.Combine(_dir, shard));
            Assert.Equal(limit, f.Entries.Sum(e => e.ByteLength));
            Assert.Equal(index.WeightMap.Where(kv => kv.Value == shard).Select(kv => kv.Key).Order(), f.Entries.Select(e => e.Name).Order());
        }

        using var dst = Create(layout);
        var report = CheckpointLoader.LoadInto(dst, _dir, ScalarType.Float32, CPU);
        Assert.True(report.IsComplete);
        foreach (var (name, t) in State(dst)) Assert.Equal(Bytes(state[name]), Bytes(t));

        // Re-exporting below the limit replaces the shards with one file (no stale index or shards left).
        SafetensorsExport.SaveHfFolder(src, _dir, tieWordEmbeddings: false);
        Assert.Equal([SafetensorsIndex.SingleFileName], Directory.EnumerateFiles(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 8)]
    [InlineData(ScalarType.Float16, 11)]
    public void HalfPrecisionFileLoadsIntoFloat32WithinRounding(ScalarType stored, int mantissaBits)
    {
        using var src = Random(TinyLm, 3);
        var path = Path.Combine(_dir, "half.safetensors");
        SafetensorsExport.Save(src, path, stored);
        using (var f = SafetensorsFile.Open(path)) Assert.All(f.Entries, e => Assert.Equal(SafetensorsTensors.ToDType(stored), e.DType));

        using var dst = Create(TinyLm, ScalarType.BFloat16); // the loader converts the module itself
        CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU);
        var a = State(src);
        foreach (var (name, t) in State(dst))
        {
            Assert.Equal(ScalarType.Float32, t.dtype);
            // Exactly the half-precision rounding of the source, and within its relative error of the source.
            using var rounded = a[name].to(stored).to(ScalarType.Float32);
            Assert.Equal(Bytes(rounded), Bytes(t));
            using var err = (t - a[name]).abs() - a[name].abs() * Math.Pow(2, -mantissaBits);
            Assert.True(err.max().item<float>() <= 1e-6f, name);
        }
    }

    [Fact]
    public void Float32FileLoadsIntoBFloat16ModuleAsRoundedValues()
    {
        using var src = Random(TinyLm, 4);
        var path = Path.Combine(_dir, "f32.safetensors");
        SafetensorsExport.Save(src, path);
        using var dst = Create(TinyLm);
        CheckpointLoader.LoadInto(dst, path, ScalarType.BFloat16, CPU);
        var a = State(src);
        foreach (var (name, t) in State(dst))
        {
            using var expected = a[name].to(ScalarType.BFloat16);
            Assert.Equal(ScalarType.BFloat16, t.dtype);
            Assert.Equal(Bytes(expected), Bytes(t));
        }
    }

    [Fact]
    public void StrictModeNamesMissingAndUnexpectedKeys()
    {
        var fileLayout = TinyLm.Where(l => l.Name != "model.norm.weight").Append(("extra.scale", new long[] { 3 })).ToArray();
        using var src = Random(fileLayout, 5);
        var path = Path.Combine(_dir, "partial.safetensors");
        SafetensorsExport.Save(src, path);

        using var dst = Create(TinyLm);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU));
        Assert.Contains("missing 1: model.norm.weight", e.Message);
        Assert.Contains("unexpected 1: extra.scale", e.Message);

        var report = CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU, strict: false);
        Assert.Equal(["model.norm.weight"], report.Missing);
        Assert.Equal(["extra.scale"], report.Unexpected);
        Assert.Equal(TinyLm.Length - 1, report.Loaded.Count);

        // A key map can rename and drop names instead.
        var mapped = CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU, k => k == "extra.scale" ? null : k, strict: false);
        Assert.Equal(["extra.scale"], mapped.Ignored);
        Assert.Empty(mapped.Unexpected);
    }

    [Fact]
    public void ShapeMismatchAlwaysThrows()
    {
        using var src = Random(TinyLm.Select(l => l.Name == "model.norm.weight" ? (l.Name, new long[] { 9 }) : l), 6);
        var path = Path.Combine(_dir, "shape.safetensors");
        SafetensorsExport.Save(src, path);
        using var dst = Create(TinyLm);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU, strict: false));
        Assert.Contains("model.norm.weight", e.Message);
    }

    [Fact]
    public void TiedEmbeddingsAreStoredOnceAndLmHeadIsFilledOnLoad()
    {
        using var src = Random(TinyLm, 7);
        var state = State(src);
        using (no_grad()) state["lm_head.weight"].copy_(state["model.embed_tokens.weight"]);
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{"model_type": "qwen2", "tie_word_embeddings": true}""");

        var export = SafetensorsExport.SaveHfFolder(src, _dir);
        Assert.Equal(["lm_head.weight"], export.DroppedTied);
        using (var f = SafetensorsFile.Open(Path.Combine(_dir, SafetensorsIndex.SingleFileName)))
        {
            Assert.False(f.Contains("lm_head.weight"));
            Assert.True(f.Contains("model.embed_tokens.weight"));
        }

        using var dst = Create(TinyLm);
        var report = CheckpointLoader.LoadInto(dst, _dir, ScalarType.Float32, CPU);
        Assert.Equal(["lm_head.weight"], report.TiedFromEmbeddings);
        Assert.Empty(report.Missing);
        Assert.Equal(Bytes(state["model.embed_tokens.weight"]), Bytes(State(dst)["lm_head.weight"]));

        // With tie_word_embeddings false the same folder lacks lm_head: strict loading must say so.
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{"tie_word_embeddings": false}""");
        using var untied = Create(TinyLm);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadInto(untied, _dir, ScalarType.Float32, CPU));
        Assert.Contains("lm_head.weight", e.Message);
    }

    [Fact]
    public void TiedCopyInCheckpointIsSkippedOnlyWhenEqualToEmbeddings()
    {
        // The module has no lm_head (it would share the embedding parameter); the file has a separate copy.
        var noHead = TinyLm.Where(l => l.Name != "lm_head.weight").ToArray();
        using var src = Random(TinyLm, 8);
        var state = State(src);
        var path = Path.Combine(_dir, "withhead.safetensors");

        using (no_grad()) state["lm_head.weight"].copy_(state["model.embed_tokens.weight"]);
        SafetensorsExport.Save(src, path);
        using var dst = Create(noHead);
        var report = CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU);
        Assert.Equal(["lm_head.weight"], report.TiedDuplicatesSkipped);

        using (no_grad()) state["lm_head.weight"].add_(1);
        SafetensorsExport.Save(src, path);
        using var dst2 = Create(noHead);
        Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.LoadInto(dst2, path, ScalarType.Float32, CPU));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32)]
    public void ChunkedCopiesEqualWholeTensorCopies(ScalarType moduleType)
    {
        // Chunks of 24 bytes (not a divisor of the rows) exercise the chunked path the default size only takes for big tensors.
        using var src = Random(TinyLm, 9);
        var path = Path.Combine(_dir, "chunks.safetensors");
        SafetensorsExport.Save(src, path, ScalarType.BFloat16);
        using var ck = SafetensorsCheckpoint.Open(path);
        using var whole = Create(TinyLm);
        using var chunked = Create(TinyLm);
        CheckpointLoader.LoadInto(whole, new SafetensorsCheckpointTensors(ck), moduleType, CPU);
        CheckpointLoader.LoadInto(chunked, new SafetensorsCheckpointTensors(ck, chunkBytes: 24), moduleType, CPU);
        var a = State(whole);
        foreach (var (name, t) in State(chunked)) Assert.Equal(Bytes(a[name]), Bytes(t));
        using var expected = a["model.embed_tokens.weight"].to(ScalarType.Float32);
        using var reference = State(src)["model.embed_tokens.weight"].to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.Equal(Bytes(reference), Bytes(expected));
    }

    [Fact]
    public void SavingAndLoadingLeaveNoLiveTensors()
    {
        using var src = Random(TinyLm, 10);
        using var dst = Create(TinyLm);
        var path = Path.Combine(_dir, "leak.safetensors");
        void Round()
        {
            SafetensorsExport.Save(src, path, ScalarType.BFloat16);
            CheckpointLoader.LoadInto(dst, path, ScalarType.Float32, CPU);
            using var ck = SafetensorsCheckpoint.Open(path);
            CheckpointLoader.LoadInto(dst, new SafetensorsCheckpointTensors(ck, chunkBytes: 24), ScalarType.Float32, CPU);
        }
        Round();
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Round();
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
