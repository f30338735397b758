using System.Formats.Tar;
using System.Text;
using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Curation;

/// <summary>Issue 16: member names like <c>../../x</c> or <c>/abs/x</c> must not survive into the shards curate writes.</summary>
[Collection(TorchGlobalState.Name)]
public class CurationHostileInputTests
{
    [Fact]
    public void UnsafeMemberNamesAreCountedSkipsAndNeverWritten()
    {
        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
        {
            Seed = 4, PretrainPairs = 24, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 24,
        });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(dir.Path, "synth"));
        // A second shard of good pairs under hostile names, written by a plain TarWriter (ours refuses them).
        string[] unsafeKeys = ["../../escaped", "/abs/escaped", "a/../../escaped", "tab\tkey"];
        using (var fs = File.Create(Path.Combine(layout.PretrainDir, "00001.tar")))
        using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
            for (int i = 0; i < unsafeKeys.Length; i++)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, unsafeKeys[i] + ".jpg") { DataStream = new MemoryStream(data.Pretrain[i].Jpeg) });
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, unsafeKeys[i] + ".txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(data.Pretrain[i].Caption)) });
            }
        var r = CurationPipeline.Run(new CurationOptions
        {
            InputSpec = Path.Combine(layout.PretrainDir, "{00000..00001}.tar"), OutputDir = Path.Combine(dir.Path, "out"),
            KeepFraction = 1.0, Training = new DualEncoderTrainingOptions { Epochs = 1, BatchSize = 8 },
        });

        Assert.Equal(24 + unsafeKeys.Length, r.Input);
        Assert.Equal(unsafeKeys.Length, r.Skipped[SampleKeys.UnsafeKey]);
        Assert.Equal(r.Input, r.Kept + r.FilteredOut + r.Skipped.Values.Sum());
        var written = new List<string>();
        foreach (var shard in ShardSpec.Expand(r.KeptShardSpec))
        {
            using var tar = new TarReader(File.OpenRead(shard));
            while (tar.GetNextEntry() is { } e) written.Add(e.Name);
        }
        Assert.Equal(r.Kept * 3, written.Count); // jpg, txt, json per kept pair
        Assert.All(written, name => Assert.True(SampleKeys.IsSafe(name), name));
        Assert.DoesNotContain(written, name => name.Contains("escaped", StringComparison.Ordinal));
    }

    [Fact]
    public void AMemberOverTheCapIsACountedSkip()
    {
        using var dir = new TempDir();
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions
        {
            Seed = 5, PretrainPairs = 16, SftRecords = 0, EvalImages = 1, ImageSize = 32, SamplesPerShard = 16,
        });
        var layout = SyntheticDatasetWriter.Write(data, Path.Combine(dir.Path, "synth"));
        // A second shard: one pair whose image member is 256 KiB (a JPEG with trailing padding), over a 64 KiB cap that
        // every synthetic 32 px JPEG and caption stays far below.
        const int cap = 64 << 10;
        var big = data.Pretrain[0].Jpeg.Concat(new byte[256 << 10]).ToArray();
        using (var fs = File.Create(Path.Combine(layout.PretrainDir, "00001.tar")))
        using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "huge.jpg") { DataStream = new MemoryStream(big) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "huge.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(data.Pretrain[0].Caption)) });
        }
        var r = CurationPipeline.Run(new CurationOptions
        {
            InputSpec = Path.Combine(layout.PretrainDir, "{00000..00001}.tar"), OutputDir = Path.Combine(dir.Path, "out"),
            KeepFraction = 1.0, Training = new DualEncoderTrainingOptions { Epochs = 1, BatchSize = 8 }, MaxMemberBytes = cap,
        });

        Assert.Equal(17, r.Input);
        Assert.Equal(1, r.Skipped[WebDatasetReader.MemberTooLarge]);
        Assert.Equal(r.Input, r.Kept + r.FilteredOut + r.Skipped.Values.Sum());
    }
}
