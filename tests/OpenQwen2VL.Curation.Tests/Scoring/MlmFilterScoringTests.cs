using System.Security.Cryptography;
using System.Text;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Curation.Scoring;

/// <summary><c>oqvl score --scorer mlm-filter</c>: the reference's prompt bytes and ids, and the fixture VLM scoring a shard.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class MlmFilterScoringTests
{
    /// <summary>
    /// SHA-256 of the whole prompt text for a caption with braces, quotes and a line break, computed by running the
    /// reference's template (MLM_Filter v2 script) through LLaVA-Unified's qwen_instruct conversation in CPython.
    /// </summary>
    [Theory]
    [InlineData("itm", "e3498778fd62a63d2dd85ca4aa3eea4f1d3f551c9a05362c3f13dedf7413a28a", 1045)]
    [InlineData("odf", "ea3e6ed5ad9840b0dc93cc1cae780e9bc3ab0176c1db6eb711a354712f0049ea", 1103)]
    [InlineData("ctq", "f80d1ac3a26ee04864cfed0e5da3c33e125769a8b54db2124d2dcfe905f2aee3", 1019)]
    [InlineData("su", "046a613c7fe4ee6945e0d8bf75eb046c68d730f6071a5814db19ddb07d051802", 2092)]
    public void PromptTextIsTheReferencesByteForByte(string metric, string sha256, int length)
    {
        string prompt = MlmFilterPrompts.Prompt("A {brace} caption, with \"quotes\"\nand a new line", MlmFilterMetric.Parse(metric)[0]);
        Assert.Equal(length, prompt.Length);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prompt))));
    }

    [Fact]
    public void UnknownMetricIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => MlmFilterMetric.Parse("su,xyz"));
        Assert.Contains("'xyz'", e.Message);
        Assert.Equal(MlmFilterMetric.All, MlmFilterMetric.Parse("all"));
    }

    [Fact]
    public void ScoresAShardBatchedAsOneByOneWithPromptIdsOfTheReferenceText()
    {
        using var loaded = LoadFixtureVlm();
        var metrics = MlmFilterMetric.Parse("su,itm");
        var scorer = new MlmFilterPairScorer(loaded.Model, loaded.Tokenizer, loaded.Preprocessor, metrics);

        // The reference's ids: the prompt text split at <image>, each piece tokenized alone, the marker between, then " ".
        string caption = "three red circles on the left";
        var pieces = MlmFilterPrompts.Prompt(caption, metrics[0]).Split("<image>");
        long[] expected = [.. loaded.Tokenizer.Encode(pieces[0]), MultimodalTokens.ImageMarker, .. loaded.Tokenizer.Encode(pieces[1]), loaded.Tokenizer.Encode(" ")[^1]];
        Assert.Equal(expected, scorer.PromptIds(caption, metrics[0]));

        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = 3, PretrainPairs = 5, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 5 });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(dir.Path, "synth"));
        var shards = ShardSpec.Expand(Path.Combine(layout.PretrainDir, "00000.tar"));
        var batched = ScoreJob.Run(scorer, new ScoreJobOptions { Shards = shards, OutputDir = Path.Combine(dir.Path, "b3"), BatchSize = 3 }, []);
        var single = ScoreJob.Run(scorer, new ScoreJobOptions { Shards = shards, OutputDir = Path.Combine(dir.Path, "b1"), BatchSize = 1 }, []);
        Assert.Equal(5, batched.RankStats.Kept);
        Assert.True(batched.RankStats.IsBalanced);
        // Batched greedy decoding (ragged rows, one cache) gives every pair the text it gets alone.
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Path, "b1", "00000.parquet")), File.ReadAllBytes(Path.Combine(dir.Path, "b3", "00000.parquet")));
        var columns = (System.Text.Json.Nodes.JsonObject)batched.Summary!["columns"]!;
        Assert.Equal(["mlm_su", "mlm_itm"], columns.Select(kv => kv.Key));
        foreach (var (_, c) in columns) Assert.Equal(5, (int)c!["scored"]! + (int)c["missing"]!);
    }

    [Fact]
    public void MetricsScoredTogetherEqualEachAloneWithOneVisionTowerRunPerBatch()
    {
        using var loaded = LoadFixtureVlm();
        int towerRuns = 0;
        var hook = loaded.Model.VisionBackbone.register_forward_hook((_, _, output) => { towerRuns++; return output; });
        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = 5, PretrainPairs = 5, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 5 });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(dir.Path, "synth"));
        var shards = ShardSpec.Expand(Path.Combine(layout.PretrainDir, "00000.tar"));
        string Score(string metrics)
        {
            var scorer = new MlmFilterPairScorer(loaded.Model, loaded.Tokenizer, loaded.Preprocessor, MlmFilterMetric.Parse(metrics));
            ScoreJob.Run(scorer, new ScoreJobOptions { Shards = shards, OutputDir = Path.Combine(dir.Path, metrics), BatchSize = 2 }, []);
            return Path.Combine(dir.Path, metrics, "00000.parquet");
        }

        string together = Score("su,itm");
        Assert.Equal(3, towerRuns); // 5 pairs in batches of 2: one tower run per batch, not one per metric
        hook.remove();
        foreach (var metric in MlmFilterMetric.Parse("su,itm"))
        {
            string alone = Score(metric.ShortName);
            foreach (var column in new[] { ScoreFile.UidColumn, metric.Column, metric.RawColumn })
                Assert.Equal(ReadColumn(alone, column), ReadColumn(together, column));
        }
    }

    /// <summary>One column's cells as text (the score columns' doubles round-trip), for bit-level comparison.</summary>
    private static string?[] ReadColumn(string path, string column)
    {
        using var stream = File.OpenRead(path);
        var reader = Parquet.ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        var field = reader.Schema.GetDataFields().Single(f => f.Name == column);
        var cells = new List<string?>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var values = new string?[group.RowCount];
            if (field.ClrType == typeof(double))
            {
                var numbers = new double?[group.RowCount];
                group.ReadAsync<double>(field, numbers.AsMemory()).GetAwaiter().GetResult();
                values = numbers.Select(x => x is { } v ? BitConverter.DoubleToInt64Bits(v).ToString("x16") : null).ToArray();
            }
            else group.ReadAsync(field, values.AsMemory()).GetAwaiter().GetResult();
            cells.AddRange(values);
        }
        reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return cells.ToArray();
    }

    private static LoadedVlm LoadFixtureVlm()
    {
        int pool = ReferenceFixtures.PoolSizes()[0];
        var source = ModelSourceResolver.Resolve(new ModelRequest
        {
            Llm = ReferenceFixtures.File("qwen2"), Vision = ReferenceFixtures.File("siglip"),
            Projector = ReferenceFixtures.File("projector.safetensors"), Tokenizer = ReferenceFixtures.File("tokenizer.json"),
        });
        return VlmLoader.Load(source, new VlmLoadSettings { DType = ScalarType.Float32, Device = CPU, VisualTokens = pool * pool });
    }
}
