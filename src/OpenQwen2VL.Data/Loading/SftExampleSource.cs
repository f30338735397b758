using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Loading;

/// <summary>
/// SFT data: each "shard" is a LLaVA-style JSON/JSONL annotation file read by <see cref="LlavaSftReader"/>
/// (ChatML, loss on assistant replies); images are read from disk through the reader's <see cref="SftImageRoot"/>
/// (regular files under the image root, size-capped, bounded reads). A sample whose image cannot be read is skipped
/// and counted with the reason ("unreadable_image", "image_too_large", ...); the reader's own skips are carried over
/// by reason.
/// </summary>
public sealed class SftExampleSource(LlavaSftReader reader) : IExampleSource
{
    public IEnumerable<LoaderExample> ReadShard(string annotationPath, SkipStats stats)
    {
        var sampleStats = new SampleStats();
        foreach (var s in reader.Read(annotationPath, sampleStats))
        {
            stats.CountInput();
            var images = new ReadOnlyMemory<byte>[s.ImagePaths.Count];
            string? skip = null;
            for (int i = 0; i < images.Length && skip is null; i++)
                if (reader.Images.TryRead(s.ImagePaths[i], out var bytes, out skip)) images[i] = bytes;
            if (skip is not null) { stats.Skip(skip); continue; }
            stats.Keep();
            yield return new LoaderExample { Ids = s.Tokens.InputIds, Labels = s.Tokens.Labels, Images = images, Id = $"{Path.GetFileName(annotationPath)}:{s.Id}" };
        }
        // Records the reader skipped never reached us: count them as input and skipped, by reason.
        foreach (var (reason, n) in sampleStats.Skipped)
        {
            stats.CountInput(n);
            stats.Skip(reason, n);
        }
    }
}
