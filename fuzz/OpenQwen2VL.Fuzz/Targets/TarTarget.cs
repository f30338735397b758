using System.Text;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>A WebDataset tar shard as every streaming job reads it: damage is a counted skip, never an exception, and input = kept + skipped.</summary>
public sealed class TarTarget : IFuzzTarget
{
    public string Name => "tar";
    public string Description => "WebDataset tar shard (ustar/GNU/PAX headers, sizes, names), read as pack/curate/train read it";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        string path = scratch.Write("shard-00000.tar", input);
        var stats = new SkipStats();
        long kept = 0;
        // No refusal is expected here: a streaming reader counts a damaged shard and goes on, so any exception is a finding.
        foreach (var sample in WebDatasetReader.Read(path, stats, maxMemberBytes: 1 << 20))
        {
            if (!SampleKeys.IsSafe(sample.Key)) throw new InvariantBrokenException($"an unsafe key was yielded: {sample.Key}");
            if (sample.Members.Values.Any(m => m.Length > 1 << 20)) throw new InvariantBrokenException("a member over the size cap was yielded");
            kept++;
            stats.Keep();
        }
        if (!stats.IsBalanced)
            throw new InvariantBrokenException($"input {stats.Input} != kept {kept} + skipped {stats.SkippedTotal}");
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        using var scratch = new FuzzScratch();
        string path = Path.Combine(scratch.Folder, "seed.tar");
        using (var writer = new WebDatasetWriter(path))
        {
            byte[] jpeg = File.ReadAllBytes(ImageHeaderTarget.SmallJpegPath(env));
            for (int i = 0; i < 3; i++)
                writer.Write($"{i:D9}", new Dictionary<string, ReadOnlyMemory<byte>>
                {
                    ["jpg"] = jpeg.AsMemory(0, i == 2 ? 600 : jpeg.Length),
                    ["txt"] = Encoding.UTF8.GetBytes($"caption number {i}"),
                    ["json"] = Encoding.UTF8.GetBytes($"{{\"uid\":\"{i:x32}\",\"url\":\"http://example.com/{i}.jpg\"}}"),
                });
        }
        yield return ("written.tar", File.ReadAllBytes(path));
    }
}
