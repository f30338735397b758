using Microsoft.Win32.SafeHandles;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// <c>oqvl pack</c>: img2dataset shards → packed multimodal shards (docs/packed-format.md).
/// <list type="number">
/// <item>Scan: stream every shard, validate and tokenise samples in parallel (results kept in input
/// order, so the job is deterministic), remembering where each image lives in its shard. An image to re-encode is
/// shrunk and encoded here, from the one decode that validates it, and spilled to a temporary file in the output
/// folder (memory stays bounded whatever the input size).</item>
/// <item>Pack: First-Fit-Decreasing over all kept samples (or per shard), then a seeded shuffle of the packs.</item>
/// <item>Write: build pack payloads in parallel (images read back by offset, from the spill file where re-encoded),
/// write them in order into shards that are published atomically.</item>
/// </list>
/// </summary>
public sealed class PackPipeline(ITextTokenizer tokenizer, PackOptions options)
{
    public const string OverCapacity = "over_capacity";
    /// <summary>Skip reason of a caption on which the tokenizer's pre-tokenizer regex timed out.</summary>
    public const string TokenizerTimeout = "tokenizer_timeout";
    /// <summary>
    /// After this many timed-out captions the pattern is at fault, not the data: the job stops with an error naming it
    /// (rather than spending the regex timeout on every remaining caption).
    /// </summary>
    public const int MaxTokenizerTimeouts = 16;
    private const int ScanBatch = 256;
    /// <summary>A scan batch is also cut at this many member bytes, so its memory is bounded by configuration (not 256 x the member cap).</summary>
    private const long ScanBatchBytes = 256L << 20;
    private const int WriteBatch = 32;

    private readonly CaptionSampleBuilder _builder = new(tokenizer, options.VisualTokens);
    private int _tokenizerTimeouts;
    private PreTokenizerTimeoutException? _lastTimeout;

    /// <param name="ReencodedOffset">where its re-encoded JPEG lies in the spill file (-1: the original bytes are packed)</param>
    private sealed record Item(int Shard, string Uid, int[] Ids, int Length, string ImageExtension, long ImageOffset, int ImageLength)
    {
        public long ReencodedOffset { get; set; } = -1;
        public int ReencodedLength { get; set; }
    }

    /// <param name="Reencoded">the smaller JPEG of the image, until the scan spills it</param>
    private readonly record struct Scanned(Item? Item, string? SkipReason, bool Truncated, byte[]? Reencoded = null);

    public PackReport Run(IReadOnlyList<string> shards, string outputDir, IProgress<PackProgress>? progress = null)
    {
        if (options.VisualTokens < 1 || options.Capacity < options.VisualTokens + 3)
            throw new ArgumentException($"capacity {options.Capacity} cannot hold one image of {options.VisualTokens} visual tokens");
        var started = DateTime.UtcNow;
        var report = new PackReport { Options = options, InputShards = shards.Count };

        // 1. Scan.
        var items = new List<Item>();
        using var spill = new ReencodeSpill(outputDir);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) };
        long samplesSeen = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            var shardStats = new SkipStats();
            var batch = new List<WebDatasetSample>(ScanBatch);
            long batchBytes = 0;
            int shardIndex = s;
            void Flush()
            {
                var results = new Scanned[batch.Count];
                Parallel.For(0, batch.Count, parallel, i => results[i] = Scan(batch[i], shardIndex));
                foreach (var r in results)
                {
                    if (r.Item is { } item)
                    {
                        // In input order, so the spill file (and the job) is deterministic.
                        if (r.Reencoded is { } jpeg) (item.ReencodedOffset, item.ReencodedLength) = (spill.Append(jpeg), jpeg.Length);
                        items.Add(item);
                        shardStats.Keep();
                    }
                    else shardStats.Skip(r.SkipReason!);
                    if (r.Truncated) report.TruncatedSamples++;
                }
                samplesSeen += batch.Count;
                batch.Clear();
                batchBytes = 0;
                if (_tokenizerTimeouts >= MaxTokenizerTimeouts)
                    throw new InvalidDataException($"{_tokenizerTimeouts} captions timed out in the tokenizer: {_lastTimeout!.Message}");
                progress?.Report(new PackProgress("scan", shardIndex, shards.Count, samplesSeen));
            }
            foreach (var sample in WebDatasetReader.Read(shards[s], shardStats, options.MaxMemberBytes))
            {
                batch.Add(sample);
                foreach (var m in sample.Members.Values) batchBytes += m.Length;
                if (batch.Count == ScanBatch || batchBytes >= ScanBatchBytes) Flush();
            }
            Flush();
            report.Stats.Add(shardStats);
            report.PerShard[shards[s]] = new PackReport.ShardCounts(shardStats.Input, shardStats.Kept, shardStats.SkippedTotal);
            progress?.Report(new PackProgress("scan", s + 1, shards.Count, samplesSeen));
        }
        report.ScanSeconds = (DateTime.UtcNow - started).TotalSeconds;

        // 2. Pack.
        var lengths = items.Select(i => i.Length).ToArray();
        var global = FirstFitDecreasing.Pack(lengths, options.Capacity);
        var perShard = PackPerShard(items, lengths);
        var packing = options.PerShard ? perShard : global;
        report.FillRatioGlobal = global.FillRatio;
        report.FillRatioPerShard = perShard.FillRatio;
        report.PackCountGlobal = global.BinCount;
        report.PackCountPerShard = perShard.BinCount;
        var order = Enumerable.Range(0, packing.BinCount).ToArray();
        new Random(options.Seed).Shuffle(order);

        // 3. Write.
        var header = new PackedHeader
        {
            Capacity = options.Capacity,
            VisualTokens = options.VisualTokens,
            TokenizerFingerprint = tokenizer.Fingerprint,
            Packing = options.PerShard ? "ffd-per-shard" : "ffd-global",
            Seed = options.Seed,
        };
        var headerBytes = header.ToJsonBytes();
        Directory.CreateDirectory(outputDir);
        var handles = new SafeFileHandle?[shards.Count];
        try
        {
            using var writer = new ShardedWebDatasetWriter(outputDir, "packed-{0:D5}.tar", options.PacksPerShard,
                _ => new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = headerBytes });
            for (int start = 0; start < order.Length; start += WriteBatch)
            {
                int count = Math.Min(WriteBatch, order.Length - start);
                var payloads = new (Dictionary<string, ReadOnlyMemory<byte>> Members, int Images, int Reencoded, long Saved)[count];
                Parallel.For(0, count, parallel, i => payloads[i] = BuildPack(packing.ItemsOf(order[start + i]), items, shards, handles, spill));
                for (int i = 0; i < count; i++)
                {
                    writer.Write($"{start + i:D9}", payloads[i].Members);
                    report.ImagesPerPack[payloads[i].Images] = report.ImagesPerPack.GetValueOrDefault(payloads[i].Images) + 1;
                    report.ReencodedImages += payloads[i].Reencoded;
                    report.ReencodeBytesSaved += payloads[i].Saved;
                }
                progress?.Report(new PackProgress("write", start + count, order.Length, items.Count));
            }
            writer.Complete();
            report.OutputShards = writer.CompletedShards.Select(Path.GetFileName).ToList()!;
            report.PacksPerOutputShard = [.. writer.SamplesPerShard];
        }
        finally
        {
            foreach (var h in handles) h?.Dispose();
        }
        RemoveStaleShards(outputDir, report.OutputShards);
        AtomicFile.WriteAllBytes(Path.Combine(outputDir, "header.json"), headerBytes);

        report.Packs = packing.BinCount;
        report.PackedTokens = packing.TotalLoad;
        report.FillRatio = packing.FillRatio;
        report.Seconds = (DateTime.UtcNow - started).TotalSeconds;
        report.Write(Path.Combine(outputDir, "stats.json"));
        WriteManifest(outputDir, report);
        return report;
    }

    /// <summary>manifest.json: what a trainer must agree with (tokenizer, visual tokens, image size, capacity) and the shards.</summary>
    private void WriteManifest(string outputDir, PackReport report)
    {
        var files = new Dictionary<string, string> { ["header"] = "header.json", ["stats"] = "stats.json" };
        if (options.TokenizerPath is { } tok)
        {
            AtomicFile.WriteAllBytes(Path.Combine(outputDir, "tokenizer.json"), BoundedFile.ReadAllBytes(tok, BpeTokenizer.MaxFileBytes, "a tokenizer.json"));
            files["tokenizer"] = "tokenizer.json";
        }
        new StageManifest
        {
            Kind = StageKinds.Packed, Inputs = [.. options.Inputs],
            Tokenizer = TokenizerFacts.Of(tokenizer),
            Visual = new VisualFacts { TokensPerImage = options.VisualTokens, ImageSize = options.Reencode ? options.ImageSize : null },
            PromptFormat = PromptFormats.Caption, ContextLength = options.Capacity,
            Files = files, Shards = [.. report.OutputShards],
            Details = new System.Text.Json.Nodes.JsonObject
            {
                ["packing"] = options.PerShard ? "ffd-per-shard" : "ffd-global", ["seed"] = options.Seed,
                ["input_samples"] = report.Stats.Input, ["kept"] = report.Stats.Kept, ["skipped"] = report.Stats.SkippedTotal,
                ["packs"] = report.Packs, ["fill_ratio"] = report.FillRatio,
            },
        }.Write(outputDir);
    }

    private Scanned Scan(WebDatasetSample sample, int shard)
    {
        if (!Img2DatasetParser.TryParse(sample, out var parsed, out var reason)) return new(null, reason, false);
        // Validates the image and, where it is to be re-encoded, shrinks and encodes it from this one decode; the pixels
        // (and their budget lease) are freed before tokenising. Kept only when smaller than the original.
        if (!ImageDecoder.TryDecodeRgbx(parsed!.Image, options.ImageLimits, out DecodedImage? image, out reason)) return new(null, reason, false);
        byte[]? reencoded = null;
        using (image)
        {
            if (options.Reencode && Math.Min(image.Width, image.Height) > options.ImageSize)
            {
                var smaller = ImageEncoder.EncodeJpegShortSide(image, options.ImageSize, options.JpegQuality);
                if (smaller.Length < parsed.Image.Length) reencoded = smaller;
            }
        }
        if (Volatile.Read(ref _tokenizerTimeouts) >= MaxTokenizerTimeouts) return new(null, TokenizerTimeout, false);
        int[] ids;
        try { ids = _builder.Build(parsed.Caption); }
        catch (PreTokenizerTimeoutException e)
        {
            _lastTimeout = e;
            Interlocked.Increment(ref _tokenizerTimeouts);
            return new(null, TokenizerTimeout, false);
        }
        int length = _builder.EstimatedLength(ids);
        bool truncated = false;
        if (length > options.Capacity)
        {
            if (options.OverCapacity == OverCapacityPolicy.Drop) return new(null, OverCapacity, false);
            int keep = ids.Length - (length - options.Capacity); // the marker sits at the front, so a prefix keeps it
            ids = ids[..keep];
            length = _builder.EstimatedLength(ids);
            truncated = true;
        }
        return new(new Item(shard, parsed.Uid, ids, length, parsed.ImageExtension, parsed.ImageOffset, parsed.Image.Length), null, truncated, reencoded);
    }

    private BinPacking PackPerShard(List<Item> items, int[] lengths)
    {
        var parts = new List<BinPacking>();
        var maps = new List<int[]>();
        for (int start = 0; start < items.Count;)
        {
            int end = start;
            while (end < items.Count && items[end].Shard == items[start].Shard) end++;
            parts.Add(FirstFitDecreasing.Pack(lengths.AsSpan(start, end - start), options.Capacity));
            maps.Add(Enumerable.Range(start, end - start).ToArray());
            start = end;
        }
        return BinPacking.Concat(options.Capacity, parts, maps);
    }

    private static (Dictionary<string, ReadOnlyMemory<byte>>, int, int, long) BuildPack(ReadOnlySpan<int> members, List<Item> items, IReadOnlyList<string> shards,
        SafeFileHandle?[] handles, ReencodeSpill spill)
    {
        var ids = new List<int>();
        var sampleLengths = new int[members.Length];
        var uids = new string[members.Length];
        var images = new List<(string Ext, byte[] Bytes)>();
        int reencoded = 0;
        long saved = 0;
        for (int k = 0; k < members.Length; k++)
        {
            var item = items[members[k]];
            ids.AddRange(item.Ids);
            sampleLengths[k] = item.Length;
            uids[k] = item.Uid;
            if (item.ReencodedOffset >= 0)
            {
                images.Add(("jpg", spill.Read(item.ReencodedOffset, item.ReencodedLength)));
                saved += item.ImageLength - item.ReencodedLength;
                reencoded++;
            }
            else images.Add((item.ImageExtension, ReadImage(item, shards, handles)));
        }
        var sequence = new PackedSequence { Ids = [.. ids], SampleLengths = sampleLengths, Uids = uids, ImageCount = images.Count };
        var dict = new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = sequence.ToJsonBytes() };
        for (int i = 0; i < images.Count; i++) dict[PackedSequence.ImageMemberExtension(i, images[i].Ext)] = images[i].Bytes;
        return (dict, images.Count, reencoded, saved);
    }

    private static byte[] ReadImage(Item item, IReadOnlyList<string> shards, SafeFileHandle?[] handles)
    {
        var handle = handles[item.Shard];
        if (handle is null)
        {
            lock (handles)
                handle = handles[item.Shard] ??= File.OpenHandle(shards[item.Shard], FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        var bytes = new byte[item.ImageLength];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), item.ImageOffset + read);
            if (n == 0) throw new IOException($"{shards[item.Shard]} changed while packing (image at {item.ImageOffset} is gone)");
            read += n;
        }
        return bytes;
    }

    private static void RemoveStaleShards(string dir, IReadOnlyList<string> written)
    {
        var keep = new HashSet<string>(written, StringComparer.Ordinal);
        foreach (var f in Directory.GetFiles(dir, "packed-*.tar"))
            if (!keep.Contains(Path.GetFileName(f))) File.Delete(f);
    }
}
