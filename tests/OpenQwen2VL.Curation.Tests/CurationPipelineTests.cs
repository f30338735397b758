using System.Text;
using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;
using Parquet;
using Parquet.Schema;

namespace OpenQwen2VL.Tests.Curation;

[Collection(TorchGlobalState.Name)]
public class CurationPipelineTests
{
    [Fact]
    public void ConservesSamples_WritesScoresPerShard_AndCountsBadOnes()
    {
        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
        {
            Seed = 9, PretrainPairs = 120, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 50,
        });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(dir.Path, "synth"));
        // A fourth shard with one undecodable image and one sample without a caption.
        using (var w = new WebDatasetWriter(Path.Combine(layout.PretrainDir, "00003.tar")))
        {
            w.Write("bad000001", new Dictionary<string, ReadOnlyMemory<byte>> { ["jpg"] = Encoding.ASCII.GetBytes("not a jpeg"), ["txt"] = Encoding.UTF8.GetBytes("a caption") });
            w.Write("bad000002", new Dictionary<string, ReadOnlyMemory<byte>> { ["jpg"] = data.Pretrain[0].Jpeg });
        }
        var options = new CurationOptions
        {
            InputSpec = Path.Combine(layout.PretrainDir, "{00000..00003}.tar"), OutputDir = Path.Combine(dir.Path, "out"),
            KeepFraction = 0.7, Training = new DualEncoderTrainingOptions { Epochs = 2, BatchSize = 32 },
        };
        var r = CurationPipeline.Run(options);

        Assert.Equal(122, r.Input);
        Assert.Equal(84, r.Kept); // round(0.7 * 120), scores are distinct
        Assert.Equal(36, r.FilteredOut);
        Assert.Equal(2, r.Skipped.Values.Sum());
        Assert.Equal(1, r.Skipped[Img2DatasetParser.MissingCaption]);
        Assert.Equal(r.Input, r.Kept + r.FilteredOut + r.Skipped.Values.Sum());
        Assert.Equal(2, r.EpochLosses.Count);
        Assert.NotNull(r.NoiseRemoval); // all scored pairs carry synthetic_noise
        Assert.True(File.Exists(r.HistogramPng) && new FileInfo(r.HistogramPng).Length > 1000);

        // The kept shards hold exactly the pairs at or above the threshold.
        var keptUids = new HashSet<string>();
        foreach (var shard in ShardSpec.Expand(r.KeptShardSpec))
            foreach (var s in WebDatasetReader.Read(shard))
                Assert.True(keptUids.Add(Img2DatasetParser.TryParse(s, out var p, out _) ? p!.Uid : throw new Exception("bad kept sample")));
        Assert.Equal(r.Kept, keptUids.Count);

        // One parquet per input shard in the score job's format (uid, key, caption, the score column); scores agree with the kept set.
        var rows = new List<(string Uid, float Score)>();
        foreach (var name in new[] { "00000", "00001", "00002" })
            rows.AddRange(ReadScores(Path.Combine(r.ScoresDir, name + ".parquet"), "tiny_siglip_score"));
        Assert.Equal(120, rows.Count);
        Assert.Equal(keptUids.Order(), rows.Where(x => x.Score >= r.Threshold.Value).Select(x => x.Uid).Order());
    }

    [Fact]
    public void RejectsConflictingThresholdOptions() =>
        Assert.Throws<ArgumentException>(() => new CurationOptions { InputSpec = "x", OutputDir = "y", Threshold = 0.2, KeepFraction = 0.5 }.Validate());

    private static List<(string, float)> ReadScores(string path, string column)
    {
        var reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        var fields = reader.Schema.GetDataFields();
        Assert.Equal(["uid", "key", "caption", column], fields.Select(f => f.Name));
        using var group = reader.OpenRowGroupReader(0);
        int n = (int)group.RowCount;
        var uids = new string?[n];
        var scores = new double?[n];
        group.ReadAsync(fields[0], uids.AsMemory()).GetAwaiter().GetResult();
        group.ReadAsync<double>(fields[3], scores.AsMemory()).GetAwaiter().GetResult();
        reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        // Curate's scores are floats written as doubles: each must come back as a float exactly.
        Assert.All(scores, x => Assert.Equal(x!.Value, (double)(float)x.Value));
        return uids.Select(u => u!).Zip(scores.Select(x => (float)x!.Value)).ToList();
    }
}
