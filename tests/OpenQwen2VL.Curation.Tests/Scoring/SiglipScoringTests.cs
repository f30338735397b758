using System.Formats.Tar;
using System.Text;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation.Scoring;

/// <summary>
/// <c>oqvl score --scorer siglip</c>: the reference SigLIP's similarities, and the job's conservation, resume and
/// rank split (a killed job's rerun and a two-rank run write the bytes an uninterrupted run writes).
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class SiglipScoringTests
{
    [Fact]
    public void SimilaritiesAndProbabilitiesMatchTheReference()
    {
        using var model = VlmLoader.LoadSiglip(ReferenceFixtures.File("siglip"), ScalarType.Float32, CPU);
        using var scorer = new SiglipPairScorer(model, _ => throw new InvalidOperationException("ids are given"),
            ImagePreprocessor.FromModelDirectory(ReferenceFixtures.File("siglip")), CPU, ScalarType.Float32);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var pre = SafetensorsFile.Open(ReferenceFixtures.File("preprocess_case.safetensors"));
        using var c = SafetensorsFile.Open(ReferenceFixtures.File("siglip_case.safetensors"));
        var pixels = SafetensorsTensors.Read(pre, "pixel_values");
        var ids = SafetensorsTensors.Read(c, "input_ids");
        long n = Math.Min(pixels.shape[0], ids.shape[0]);
        var (cos, prob) = scorer.Similarities(pixels[..(int)n], ids[..(int)n]);
        // The reference pairs image i with text i: its normalised embeddings' dot product and sigmoid(logits[i, i]).
        var expectedCos = (SafetensorsTensors.Read(c, "image_embeds")[..(int)n] * SafetensorsTensors.Read(c, "text_embeds")[..(int)n]).sum(-1);
        var expectedProb = SafetensorsTensors.Read(c, "logits_per_image").diagonal()[..(int)n].sigmoid();
        Assert.True(cos.allclose(expectedCos, rtol: 1e-4, atol: 1e-5), $"cosine {cos.ToString(TorchSharp.TensorStringStyle.Julia)} vs {expectedCos.ToString(TorchSharp.TensorStringStyle.Julia)}");
        Assert.True(prob.allclose(expectedProb, rtol: 1e-4, atol: 1e-5), $"probability {prob.ToString(TorchSharp.TensorStringStyle.Julia)} vs {expectedProb.ToString(TorchSharp.TensorStringStyle.Julia)}");
    }

    [Fact]
    public void KilledJobRerunAndTwoRanksWriteTheBytesOfAnUninterruptedRun()
    {
        using var dir = new TempDir();
        var shards = WriteShards(dir.Path);
        string folder = SiglipFolder(dir.Path);
        ScoreJobResult Run(string outDir, WorkerRank rank, int failAfterBatches = -1)
        {
            using var inner = SiglipPairScorer.Load(folder, CPU, ScalarType.Float32);
            using var scorer = new FailingScorer(inner, failAfterBatches);
            return ScoreJob.Run(scorer, new ScoreJobOptions { Shards = shards, OutputDir = outDir, BatchSize = 3, Rank = rank }, []);
        }

        var whole = Run(Path.Combine(dir.Path, "whole"), new WorkerRank(0, 1, "test"));
        Assert.NotNull(whole.Summary);
        Assert.True(whole.RankStats.IsBalanced);
        Assert.Equal(3 * 7 + 3, whole.RankStats.Input);        // three synthetic shards of 7, and the hand-made one
        Assert.Equal(3 * 7 + 1, whole.RankStats.Kept);          // its bad image and missing caption are skipped
        Assert.Equal(1, whole.RankStats.Skipped[Img2DatasetParser.MissingCaption]);
        Assert.Equal(2, whole.Histograms.Count);

        string killed = Path.Combine(dir.Path, "killed");
        Assert.Throws<IOException>(() => Run(killed, new WorkerRank(0, 1, "test"), failAfterBatches: 4));
        Assert.False(File.Exists(Path.Combine(killed, ScoreJob.StatsFile)));
        var rerun = Run(killed, new WorkerRank(0, 1, "test"));
        Assert.True(rerun.ShardsAlreadyComplete >= 1);
        Assert.True(rerun.ShardsScored >= 1);
        AssertSameFiles(Path.Combine(dir.Path, "whole"), killed);

        string ranks = Path.Combine(dir.Path, "ranks");
        var first = Run(ranks, new WorkerRank(0, 2, "test"));
        Assert.Null(first.Summary);                              // rank 1's shards are not there yet
        var second = Run(ranks, new WorkerRank(1, 2, "test"));
        Assert.NotNull(second.Summary);
        Assert.Equal(2, first.ShardsOfRank);
        AssertSameFiles(Path.Combine(dir.Path, "whole"), ranks);
    }

    private static void AssertSameFiles(string expectedDir, string actualDir)
    {
        string[] Names(string d) => Directory.GetFiles(d).Where(f => f.EndsWith(".parquet") || f.EndsWith(".json"))
            .Select(Path.GetFileName).Where(n => n != "manifest.json").Order(StringComparer.Ordinal).ToArray()!;
        var expected = Names(expectedDir);
        Assert.Equal(expected, Names(actualDir));
        Assert.True(expected.Length >= 9);
        foreach (var name in expected)
            Assert.True(File.ReadAllBytes(Path.Combine(expectedDir, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actualDir, name))), name);
    }

    /// <summary>Three synthetic shards of 7 pairs, and one with a good pair, an undecodable image and a missing caption.</summary>
    private static IReadOnlyList<string> WriteShards(string root)
    {
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
        {
            Seed = 9, PretrainPairs = 21, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 7,
        });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(root, "synth"));
        string bad = Path.Combine(layout.PretrainDir, "00003.tar");
        using (var fs = File.Create(bad))
        using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
        {
            void Add(string name, byte[] bytes) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
            Add("good.jpg", data.Pretrain[0].Jpeg);
            Add("good.txt", Encoding.UTF8.GetBytes("a red circle"));
            Add("broken.jpg", [0xFF, 0xD8, 0xFF, 0x00, 0x01]);
            Add("broken.txt", Encoding.UTF8.GetBytes("a blue square"));
            Add("nocaption.jpg", data.Pretrain[1].Jpeg);
        }
        return ShardSpec.Expand(Path.Combine(layout.PretrainDir, "{00000..00003}.tar"));
    }

    /// <summary>The reference SigLIP with a 50-piece SentencePiece model that fits its 300-entry text embedding.</summary>
    private static string SiglipFolder(string root)
    {
        string folder = Path.Combine(root, "siglip");
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(ReferenceFixtures.File("siglip"))) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "siglip-tokenizer", "spiece-small.model"), Path.Combine(folder, "spiece.model"));
        return folder;
    }

    /// <summary>Stands in for a job killed mid-shard: throws on the scorer call after <c>failAfter</c> batches.</summary>
    private sealed class FailingScorer(IPairScorer inner, int failAfter) : IPairScorer
    {
        private int _calls;
        public string Name => inner.Name;
        public IReadOnlyList<ScoreColumn> Columns => inner.Columns;
        public ImagePreprocessor Preprocessor => inner.Preprocessor;
        public ScoredBatch Score(IReadOnlyList<ScoringPair> pairs, float[] pixels) =>
            failAfter >= 0 && _calls++ >= failAfter ? throw new IOException("killed") : inner.Score(pairs, pixels);
        public void Dispose() { }
    }
}
