using Microsoft.Win32.SafeHandles;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>
/// <c>oqvl pack</c>: img2dataset shards (or, with <see cref="PackFormat.Interleaved"/>, interleaved documents in JSONL
/// files or WebDataset shards: <see cref="InterleavedDocumentReader"/>) → packed multimodal shards (docs/packed-format.md).
/// <list type="number">
/// <item>Scan: stream every input, validate and tokenise samples in parallel (results kept in input
/// order, so the job is deterministic), remembering where each image lives in its shard. Images of interleaved
/// documents (often inline base64) are appended to a spill file next to the output instead, so memory holds
/// only token ids whatever the data's size; the spill is deleted at the end.</item>
/// <item>Pack: First-Fit-Decreasing over all kept samples (or per shard), then a seeded shuffle of the packs.</item>
/// <item>Write: build pack payloads in parallel (images read back by offset, re-encoded when smaller),
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

    private const string SpillFile = ".pack-images.spill";

    private readonly InterleavedDocumentScanner _documents = new(tokenizer, options);

    /// <summary>Where an image's bytes are: <see cref="File"/> indexes the inputs, then the spill file.</summary>
    /// <param name="Saved">bytes a scan-time re-encode saved (the image is then that smaller JPEG, in the spill file)</param>
    private sealed record ImageRef(int File, long Offset, int Length, string Extension, bool ReencodeCandidate, long Saved = 0);

    /// <summary>A sample to pack; <see cref="Shard"/> is its input (the unit of per-shard packing).</summary>
    private sealed record Item(int Shard, string Uid, int[] Ids, int Length, ImageRef[] Images);

    /// <summary>A scanned input record: its samples (several when a document was split) or a skip reason.</summary>
    private readonly record struct Scanned(Item[]? Items, string? SkipReason, bool Truncated, IReadOnlyList<ScannedImage>? Pending = null, IReadOnlyList<string>? DroppedImages = null);

    private readonly record struct PendingScan(long Bytes, Func<Scanned> Scan);

    public PackReport Run(IReadOnlyList<string> shards, string outputDir, IProgress<PackProgress>? progress = null)
    {
        if (options.VisualTokens < 1 || options.Capacity < options.VisualTokens + 3)
            throw new ArgumentException($"capacity {options.Capacity} cannot hold one image of {options.VisualTokens} visual tokens");
        var started = DateTime.UtcNow;
        var report = new PackReport { Options = options, InputShards = shards.Count };
        // Files images are read back from: the inputs, then (interleaved) the spill of their images.
        var files = new List<string>(shards);
        FileStream? spill = null;
        // Interleaved documents spill their images; captions spill the smaller JPEGs re-encoded from the scan's decode.
        if (options.Format == PackFormat.Interleaved || options.Reencode)
        {
            Directory.CreateDirectory(outputDir);
            files.Add(Path.Combine(outputDir, SpillFile));
            spill = new FileStream(files[^1], FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 20);
        }
        try
        {
            return Run(shards, outputDir, progress, started, report, files, spill);
        }
        finally
        {
            spill?.Dispose();
            if (spill is not null) File.Delete(files[^1]);
        }
    }

    private PackReport Run(IReadOnlyList<string> shards, string outputDir, IProgress<PackProgress>? progress, DateTime started, PackReport report,
        List<string> files, FileStream? spill)
    {

        // 1. Scan.
        var items = new List<Item>();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Threads) };
        long samplesSeen = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            var shardStats = new SkipStats();
            var batch = new List<PendingScan>(ScanBatch);
            long batchBytes = 0;
            int shardIndex = s;
            void Flush()
            {
                var results = new Scanned[batch.Count];
                Parallel.For(0, batch.Count, parallel, i => results[i] = batch[i].Scan());
                foreach (var r in results)
                {
                    if (r.Items is { } scanned)
                    {
                        items.AddRange(r.Pending is null ? scanned : Spill(scanned, r.Pending, spill!, files.Count - 1));
                        shardStats.Keep();
                        if (scanned.Length > 1) report.SplitDocuments++;
                    }
                    else shardStats.Skip(r.SkipReason!);
                    if (r.Truncated) report.TruncatedSamples++;
                    foreach (var reason in r.DroppedImages ?? []) report.DroppedImages[reason] = report.DroppedImages.GetValueOrDefault(reason) + 1;
                }
                samplesSeen += batch.Count;
                batch.Clear();
                batchBytes = 0;
                if (_tokenizerTimeouts >= MaxTokenizerTimeouts)
                    throw new InvalidDataException($"{_tokenizerTimeouts} captions timed out in the tokenizer: {_lastTimeout!.Message}");
                progress?.Report(new PackProgress("scan", shardIndex, shards.Count, samplesSeen));
            }
            foreach (var record in Records(shards[s], shardIndex, shardStats))
            {
                batch.Add(record);
                batchBytes += record.Bytes;
                if (batch.Count == ScanBatch || batchBytes >= ScanBatchBytes) Flush();
            }
            Flush();
            report.Stats.Add(shardStats);
            report.PerShard[shards[s]] = new PackReport.ShardCounts(shardStats.Input, shardStats.Kept, shardStats.SkippedTotal);
            progress?.Report(new PackProgress("scan", s + 1, shards.Count, samplesSeen));
        }
        report.ScanSeconds = (DateTime.UtcNow - started).TotalSeconds;
        report.Samples = items.Count;
        spill?.Dispose(); // complete before it is read back (and no writer left open beside the readers' handles)

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
        var handles = new SafeFileHandle?[files.Count];
        try
        {
            using var writer = new ShardedWebDatasetWriter(outputDir, "packed-{0:D5}.tar", options.PacksPerShard,
                _ => new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = headerBytes });
            for (int start = 0; start < order.Length; start += WriteBatch)
            {
                int count = Math.Min(WriteBatch, order.Length - start);
                var payloads = new (Dictionary<string, ReadOnlyMemory<byte>> Members, int Images, int Reencoded, long Saved)[count];
                Parallel.For(0, count, parallel, i => payloads[i] = BuildPack(packing.ItemsOf(order[start + i]), items, files, handles));
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
            PromptFormat = options.Format == PackFormat.Interleaved ? PromptFormats.Interleaved : PromptFormats.Caption, ContextLength = options.Capacity,
            Files = files, Shards = [.. report.OutputShards],
            Details = new System.Text.Json.Nodes.JsonObject
            {
                ["format"] = options.Format.ToString().ToLowerInvariant(),
                ["packing"] = options.PerShard ? "ffd-per-shard" : "ffd-global", ["seed"] = options.Seed,
                ["input_samples"] = report.Stats.Input, ["kept"] = report.Stats.Kept, ["skipped"] = report.Stats.SkippedTotal,
                ["packs"] = report.Packs, ["fill_ratio"] = report.FillRatio,
            },
        }.Write(outputDir);
    }

    /// <summary>The records of one input, each with the work of scanning it (run in parallel, results kept in order).</summary>
    private IEnumerable<PendingScan> Records(string path, int shard, SkipStats stats)
    {
        if (options.Format == PackFormat.Interleaved)
        {
            foreach (var doc in InterleavedDocumentReader.Read(path, stats, options.MaxMemberBytes))
                yield return new PendingScan(doc.Bytes, () => ScanDocument(doc, shard));
            yield break;
        }
        foreach (var sample in WebDatasetReader.Read(path, stats, options.MaxMemberBytes))
            yield return new PendingScan(sample.Members.Values.Sum(m => (long)m.Length), () => Scan(sample, shard));
    }

    private Scanned ScanDocument(RawInterleavedDocument raw, int shard)
    {
        if (Volatile.Read(ref _tokenizerTimeouts) >= MaxTokenizerTimeouts) return new(null, TokenizerTimeout, false);
        ScannedDocument doc;
        try { doc = _documents.Scan(raw); }
        catch (PreTokenizerTimeoutException e)
        {
            _lastTimeout = e;
            Interlocked.Increment(ref _tokenizerTimeouts);
            return new(null, TokenizerTimeout, false);
        }
        if (doc.Samples is not { } samples) return new(null, doc.SkipReason, false, null, doc.DroppedImages);
        var items = samples.Select(s => new Item(shard, s.Uid, s.Ids, s.Length,
            [.. s.Images.Select(i => new ImageRef(-1, -1, i.Bytes.Length, i.Extension, i.ReencodeCandidate))])).ToArray();
        return new(items, null, doc.Truncated, [.. samples.SelectMany(s => s.Images)], doc.DroppedImages);
    }

    /// <summary>Appends the scanned images (in item order) to the spill file and points the items at them.</summary>
    private static IEnumerable<Item> Spill(Item[] items, IReadOnlyList<ScannedImage> pending, FileStream spill, int spillIndex)
    {
        int next = 0;
        var placed = new Item[items.Length];
        for (int k = 0; k < items.Length; k++)
        {
            var refs = new ImageRef[items[k].Images.Length];
            for (int i = 0; i < refs.Length; i++)
            {
                var bytes = pending[next++].Bytes;
                refs[i] = items[k].Images[i] with { File = spillIndex, Offset = spill.Position };
                spill.Write(bytes);
            }
            placed[k] = items[k] with { Images = refs };
        }
        return placed;
    }

    private Scanned Scan(WebDatasetSample sample, int shard)
    {
        if (!Img2DatasetParser.TryParse(sample, out var parsed, out var reason)) return new(null, reason, false);
        // Validates the image and learns its size; the pixels (and their budget lease) are freed before tokenising.
        // An image worth re-encoding is shrunk and encoded from this one decode (the write reads the JPEG back from the
        // spill file), so no image is decoded twice; measured 0.90x -> 1.40x of a plain loop with re-encoding on.
        byte[]? smaller = null;
        if (!ImageDecoder.TryDecodeRgbx(parsed!.Image, options.ImageLimits, out DecodedImage? image, out reason)) return new(null, reason, false);
        using (image)
            if (options.Reencode && Math.Min(image.Width, image.Height) > options.ImageSize
                && ImageEncoder.EncodeJpegShortSide(image, options.ImageSize, options.JpegQuality) is var jpeg && jpeg.Length < parsed.Image.Length)
                smaller = jpeg;
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
        if (smaller is null)
            return new([new Item(shard, parsed.Uid, ids, length, [new ImageRef(shard, parsed.ImageOffset, parsed.Image.Length, parsed.ImageExtension, false)])], null, truncated);
        var reencoded = new ImageRef(-1, -1, smaller.Length, "jpg", false, parsed.Image.Length - smaller.Length);
        return new([new Item(shard, parsed.Uid, ids, length, [reencoded])], null, truncated, [new ScannedImage(smaller, "jpg", false)]);
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

    private (Dictionary<string, ReadOnlyMemory<byte>>, int, int, long) BuildPack(ReadOnlySpan<int> members, List<Item> items, IReadOnlyList<string> files, SafeFileHandle?[] handles)
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
            foreach (var image in item.Images)
            {
                var bytes = ReadImage(image, files, handles);
                var ext = image.Extension;
                if (image.Saved > 0) { saved += image.Saved; reencoded++; }
                if (image.ReencodeCandidate && ImageDecoder.TryDecodeRgbx(bytes, options.ImageLimits, out DecodedImage? img, out _))
                {
                    RgbImage resized;
                    using (img) resized = ImageEncoder.ResizeShortSide(img, options.ImageSize);
                    var smaller = ImageEncoder.EncodeJpeg(resized, options.JpegQuality);
                    if (smaller.Length < bytes.Length)
                    {
                        saved += bytes.Length - smaller.Length;
                        bytes = smaller;
                        ext = "jpg";
                        reencoded++;
                    }
                }
                images.Add((ext, bytes));
            }
        }
        var sequence = new PackedSequence { Ids = [.. ids], SampleLengths = sampleLengths, Uids = uids, ImageCount = images.Count };
        var dict = new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = sequence.ToJsonBytes() };
        for (int i = 0; i < images.Count; i++) dict[PackedSequence.ImageMemberExtension(i, images[i].Ext)] = images[i].Bytes;
        return (dict, images.Count, reencoded, saved);
    }

    private static byte[] ReadImage(ImageRef item, IReadOnlyList<string> shards, SafeFileHandle?[] handles)
    {
        var handle = handles[item.File];
        if (handle is null)
        {
            lock (handles)
                handle = handles[item.File] ??= File.OpenHandle(shards[item.File], FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        var bytes = new byte[item.Length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), item.Offset + read);
            if (n == 0) throw new IOException($"{shards[item.File]} changed while packing (image at {item.Offset} is gone)");
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
