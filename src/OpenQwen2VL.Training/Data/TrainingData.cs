using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Training.Config;

namespace OpenQwen2VL.Training.Data;

/// <summary>What a stage trains on.</summary>
public enum TrainingDataKind
{
    /// <summary>Packed multimodal sequences (<c>oqvl pack</c>), already tokenized.</summary>
    Packed,
    /// <summary>Image-caption shards (synth, curate, img2dataset), tokenized with the model's tokenizer, one pair per row.</summary>
    Captions,
    /// <summary>LLaVA-style SFT conversations, tokenized with the model's tokenizer (ChatML, loss on the replies).</summary>
    Sft,
    /// <summary>A learnable synthetic packed stream (<see cref="SyntheticCaptionBatches"/>) for smoke runs.</summary>
    Synthetic,
    /// <summary>Several of the above mixed by weight (<see cref="MixtureSpec"/>, <see cref="MixtureBatchStream"/>).</summary>
    Mixture,
}

/// <summary>
/// `--data` of <c>oqvl train</c>, resolved before any compute: what it is, where its files are and what it was made
/// for (tokenizer, visual tokens per image, image size, sequence capacity), so the stage can check the model against
/// it (<see cref="StageChecks"/>) and then open it (<see cref="Open"/>).
/// </summary>
public sealed record TrainingData
{
    public required TrainingDataKind Kind { get; init; }
    public required string Description { get; init; }
    public StageManifest? Manifest { get; init; }
    public IReadOnlyList<string> Shards { get; init; } = [];
    public string? SftJson { get; init; }
    public string? SftImageRoot { get; init; }
    public int SyntheticSequences { get; init; }
    /// <summary>The sources of a <see cref="TrainingDataKind.Mixture"/>, with their normalised weights.</summary>
    public IReadOnlyList<(string Name, double Weight, TrainingData Data)> Parts { get; init; } = [];
    /// <summary>The tokenizer the data's ids were made with (packed data).</summary>
    public TokenizerFacts? Tokenizer { get; init; }
    /// <summary>That tokenizer's file, when the data folder carries it.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Visual tokens per image the data was packed for.</summary>
    public int? VisualTokens { get; init; }
    /// <summary>The image size the data was prepared for (packed images are re-encoded down to it).</summary>
    public int? ImageSize { get; init; }
    /// <summary>Tokens per packed sequence.</summary>
    public int? ContextLength { get; init; }

    /// <summary>The lineage entry of the data for the run's manifest.</summary>
    public ManifestInput AsInput() => Manifest?.AsInput() ?? new ManifestInput(Kind.ToString().ToLowerInvariant(), Description);

    /// <summary>
    /// Accepts a folder written by an earlier stage (<c>oqvl pack</c>: packed sequences; <c>oqvl curate</c>: caption
    /// shards; <c>oqvl synth</c>: its caption shards in pre-training, its SFT conversations in SFT), a folder of packed
    /// shards with header.json, or the explicit specs <c>shards:SPEC</c> (packed shards), <c>captions:SPEC</c>,
    /// <c>sft:JSON,IMAGE_ROOT</c> and <c>synthetic:N</c>; or a weighted mixture of those,
    /// <c>NAME=SOURCE:WEIGHT,...</c> (<see cref="MixtureSpec"/>). Problems are one-line <see cref="StageContractException"/>s.
    /// </summary>
    public static TrainingData Resolve(string spec, Stage stage)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new StageContractException("--data: nothing given");
        if (Directory.Exists(spec)) return FromFolder(spec, stage);
        if (MixtureSpec.IsMixture(spec)) return FromMixture(spec, stage);
        int colon = spec.IndexOf(':');
        string scheme = colon < 0 ? "" : spec[..colon], arg = colon < 0 ? "" : spec[(colon + 1)..];
        return scheme switch
        {
            "synthetic" => new TrainingData
            {
                Kind = TrainingDataKind.Synthetic, Description = spec,
                SyntheticSequences = int.TryParse(arg, out int n) && n > 0 ? n : throw new StageContractException($"--data synthetic:N needs a positive N, got '{arg}'"),
            },
            "shards" => FromPackedShards(ExpandExisting(arg, spec), spec, header: null, manifest: null),
            "captions" => new TrainingData { Kind = TrainingDataKind.Captions, Description = spec, Shards = ExpandExisting(arg, spec) },
            "sft" => FromSftSpec(arg),
            _ => throw new StageContractException(
                $"--data {spec}: not found (give a folder written by oqvl pack, curate or synth, or shards:SPEC, captions:SPEC, sft:JSON,IMAGE_ROOT, synthetic:N)"),
        };
    }

    /// <summary>
    /// A mixture: each part resolved alone; what the stage checks against the model (tokenizer, visual tokens per image)
    /// must agree between the parts, the longest context and the smallest image size stand for all.
    /// </summary>
    static TrainingData FromMixture(string spec, Stage stage)
    {
        var parts = MixtureSpec.Parse(spec).Select(p => (p.Name, p.Weight, Data: Resolve(p.Source, stage))).ToList();
        if (parts.FirstOrDefault(p => p.Data.Kind == TrainingDataKind.Mixture) is { Data: not null } nested)
            throw new StageContractException($"--data {spec}: '{nested.Name}' is itself a mixture");
        void Agree(string what, Func<TrainingData, string?> key, Func<TrainingData, string> show)
        {
            var given = parts.Where(p => key(p.Data) is not null).ToList();
            if (given.FirstOrDefault(p => key(p.Data) != key(given[0].Data)) is { Data: not null } other)
                throw new StageContractException($"--data {spec}: '{given[0].Name}' has {what} {show(given[0].Data)} but '{other.Name}' has {show(other.Data)}: pack the parts alike");
        }
        Agree("tokenizer", d => d.Tokenizer is { Fingerprint.Length: > 0 } t ? t.Fingerprint : null, d => d.Tokenizer!.Describe());
        Agree("visual tokens per image", d => d.VisualTokens?.ToString(System.Globalization.CultureInfo.InvariantCulture), d => $"{d.VisualTokens}");
        return new TrainingData
        {
            Kind = TrainingDataKind.Mixture, Description = $"mixture {spec}", Parts = parts,
            Tokenizer = parts.Select(p => p.Data.Tokenizer).FirstOrDefault(t => t is { Fingerprint.Length: > 0 }),
            VisualTokens = parts.Select(p => p.Data.VisualTokens).FirstOrDefault(v => v is not null),
            TokenizerPath = parts.Select(p => p.Data.TokenizerPath).FirstOrDefault(t => t is not null),
            ImageSize = parts.Select(p => p.Data.ImageSize).Where(s => s is not null).DefaultIfEmpty().Min(),
            ContextLength = parts.Select(p => p.Data.ContextLength).Where(c => c is not null).DefaultIfEmpty().Max(),
        };
    }

    static TrainingData FromFolder(string dir, Stage stage)
    {
        if (!StageManifest.Exists(dir))
        {
            // A packed folder from before manifests: header.json and packed-*.tar.
            string header = Path.Combine(dir, "header.json");
            var tars = Directory.GetFiles(dir, "packed-*.tar").Order(StringComparer.Ordinal).ToList();
            if (File.Exists(header) && tars.Count > 0) return FromPackedShards(tars, dir, ParseHeader(BoundedFile.ReadAllBytes(header, BoundedFile.SmallJsonMaxBytes, "a packed header"), header), null);
            throw new StageContractException($"--data {dir}: no manifest.json; give a folder written by oqvl pack, curate or synth");
        }
        var m = StageManifest.Read(dir).RequireKind("--data", StageKinds.Packed, StageKinds.Curated, StageKinds.Synthetic);
        switch (m.Kind)
        {
            case StageKinds.Packed:
            {
                var shards = m.RequireShards();
                var data = FromPackedShards(shards, dir, ParseHeader(BoundedFile.ReadAllBytes(m.RequireFile("header"), BoundedFile.SmallJsonMaxBytes, "a packed header"), m.RequireFile("header")), m);
                return data with { TokenizerPath = m.OptionalFile("tokenizer") };
            }
            case StageKinds.Synthetic when stage == Stage.Sft:
                return new TrainingData
                {
                    Kind = TrainingDataKind.Sft, Description = $"SFT conversations of {dir}", Manifest = m,
                    SftJson = m.RequireFile("sft_json"), SftImageRoot = m.RequireFile("sft_images"),
                };
            default:
                return new TrainingData { Kind = TrainingDataKind.Captions, Description = $"caption shards of {dir}", Manifest = m, Shards = m.RequireShards() };
        }
    }

    static TrainingData FromPackedShards(IReadOnlyList<string> shards, string description, PackedHeader? header, StageManifest? manifest)
    {
        header ??= ReadShardHeader(shards.First(File.Exists));
        return new TrainingData
        {
            Kind = TrainingDataKind.Packed, Description = $"packed data {description}", Manifest = manifest, Shards = shards,
            Tokenizer = manifest?.Tokenizer ?? new TokenizerFacts { Fingerprint = header.TokenizerFingerprint, VocabSize = 0 },
            VisualTokens = manifest?.Visual?.TokensPerImage ?? header.VisualTokens,
            ImageSize = manifest?.Visual?.ImageSize,
            ContextLength = manifest?.ContextLength ?? header.Capacity,
        };
    }

    static TrainingData FromSftSpec(string arg)
    {
        int comma = arg.LastIndexOf(',');
        if (comma <= 0 || comma == arg.Length - 1) throw new StageContractException($"--data sft:JSON,IMAGE_ROOT expected, got 'sft:{arg}'");
        string json = arg[..comma], imageRoot = arg[(comma + 1)..];
        if (!File.Exists(json)) throw new StageContractException($"--data: SFT annotations not found: {json}");
        if (!Directory.Exists(imageRoot)) throw new StageContractException($"--data: SFT image folder not found: {imageRoot}");
        return new TrainingData { Kind = TrainingDataKind.Sft, Description = $"sft:{arg}", SftJson = json, SftImageRoot = imageRoot };
    }

    static IReadOnlyList<string> ExpandExisting(string arg, string spec)
    {
        IReadOnlyList<string> shards;
        try { shards = ShardSpec.Expand(arg); }
        catch (Exception e) when (e is FormatException or ArgumentException) { throw new StageContractException($"--data {spec}: {e.Message}"); }
        var missing = shards.Where(s => !File.Exists(s)).ToList();
        if (missing.Count > 0)
            throw new StageContractException($"--data {spec}: {missing.Count} of its {shards.Count} shards do not exist (first: {missing[0]})");
        return shards;
    }

    static PackedHeader ParseHeader(byte[] json, string where)
    {
        try { return PackedHeader.Parse(json); }
        catch (InvalidDataException e) { throw new StageContractException($"{where}: {e.Message}"); }
    }

    static PackedHeader ReadShardHeader(string shard)
    {
        var first = WebDatasetReader.Read(shard, new SkipStats()).FirstOrDefault();
        if (first is null || first.Key != PackedHeader.HeaderKey || !first.Members.TryGetValue("json", out var json))
            throw new StageContractException($"{shard} is not a packed shard (no {PackedHeader.HeaderKey}.json first): pack the data with oqvl pack");
        return ParseHeader(json, shard);
    }

    /// <summary>The batches of this rank, tokenized (where the data is text) and preprocessed for the model.</summary>
    public IBatchSource Open(TrainingDataOpenOptions o) => new BatchStreamSource(OpenStream(o));

    IBatchStream OpenStream(TrainingDataOpenOptions o)
    {
        if (o.PackSft && Kind != TrainingDataKind.Sft)
            throw new StageContractException($"sft_packing true: packs SFT conversations, but --data {Description} is {Kind.ToString().ToLowerInvariant()} data");
        var loader = new LoaderOptions
        {
            BatchSize = o.MicroBatch, Seed = o.Seed, Rank = o.Rank, WorldSize = o.World, BatchesPerTurn = o.BatchesPerTurn, TakesBatch = o.TakesBatch, PadId = o.PadId,
            GroupByImageCount = Kind == TrainingDataKind.Sft ? o.GroupByImageCount : 0, ImageLimits = o.ImageLimits,
        };
        IBatchStream stream = Kind switch
        {
            TrainingDataKind.Synthetic => new SyntheticCaptionBatches(SyntheticSequences, o.MicroBatch, o.Preprocessor.Size, o.Tokenizer.VocabSize, o.Seed, o.Rank, o.World),
            TrainingDataKind.Packed => new LoaderBatchStream(Shards, new PackedShardSource(), o.Preprocessor, loader),
            TrainingDataKind.Captions => new LoaderBatchStream(Shards,
                new CaptionShardSource(new CaptionSampleBuilder(o.Tokenizer, o.VisualTokensPerImage), o.SequenceLength - o.VisualTokensPerImage + 1), o.Preprocessor, loader),
            TrainingDataKind.Sft => new LoaderBatchStream([SftJson!], SftSource(o), o.Preprocessor, loader),
            TrainingDataKind.Mixture => OpenMixture(o),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
        };
        return stream;
    }

    /// <summary>
    /// One process reads the mixture's stream whole. Ranks taking turns split that same stream, as they do a single
    /// source (W ranks then train as one process would): each rank takes its turns' indices of the mixture, and each
    /// source decodes only its batches that fall there (where the schedule puts that source's k-th batch).
    /// </summary>
    IBatchStream OpenMixture(TrainingDataOpenOptions o)
    {
        if (o.World <= 1 || o.BatchesPerTurn <= 0)
            return new MixtureBatchStream([.. Parts.Select(p => (p.Name, p.Weight, p.Data.OpenStream(o)))]);
        if (Parts.FirstOrDefault(p => p.Data.Kind == TrainingDataKind.Synthetic) is { Name: { } synthetic })
            throw new StageContractException($"--data: the mixture's part '{synthetic}' is synthetic:N, which cannot be split over {o.World} ranks; train it on one process");
        bool Mine(long index) => LoaderOptions.InTurn(index, o.BatchesPerTurn, o.World, o.Rank);
        var weights = Parts.Select(p => p.Weight).ToList();
        var sources = Parts.Select((p, i) =>
        {
            var schedule = new MixtureSchedule(weights);   // the source's own: its loader walks it on its producer thread
            return (p.Name, p.Weight, p.Data.OpenStream(o with { TakesBatch = k => Mine(schedule.IndexOf(i, k)) }));
        }).ToList();
        return new MixtureBatchStream(sources, Mine);
    }

    /// <summary>The conversations, packed into sequences of the stage's length when asked (each its own segment).</summary>
    IExampleSource SftSource(TrainingDataOpenOptions o)
    {
        var conversations = new SftExampleSource(new LlavaSftReader(new ChatMlPromptBuilder(o.Tokenizer), SftImageRoot!, o.SequenceLength, o.VisualTokensPerImage,
            new SftReadOptions { AllowImagesOutsideRoot = o.AllowImagesOutsideRoot }));
        return o.PackSft ? new PackingExampleSource(conversations, o.SequenceLength, o.VisualTokensPerImage) : conversations;
    }
}

/// <summary>What opening <see cref="TrainingData"/> needs from the model and the stage.</summary>
public sealed record TrainingDataOpenOptions
{
    public required int MicroBatch { get; init; }
    /// <summary>The model's image transform.</summary>
    public required ImagePreprocessor Preprocessor { get; init; }
    /// <summary>The model's tokenizer (for captions and conversations).</summary>
    public required ITextTokenizer Tokenizer { get; init; }
    public required int VisualTokensPerImage { get; init; }
    /// <summary>Samples are cut to this many tokens, visual tokens included.</summary>
    public required int SequenceLength { get; init; }
    public int Seed { get; init; }
    public int Rank { get; init; }
    public int World { get; init; } = 1;
    /// <summary>Ranks take turns of this many batches on one stream (<see cref="LoaderOptions.BatchesPerTurn"/>); 0 splits shards by rank.</summary>
    public int BatchesPerTurn { get; init; }
    /// <summary>Which batches of this data's one stream this rank takes, in place of the turns (a mixture's source: see <see cref="LoaderOptions.TakesBatch"/>).</summary>
    public Func<long, bool>? TakesBatch { get; init; }
    /// <summary>Right padding; an id inside the model's vocabulary.</summary>
    public int PadId { get; init; }
    public int GroupByImageCount { get; init; }
    /// <summary>Pack SFT conversations into sequences of <see cref="SequenceLength"/> (<see cref="StageConfig.SftPacking"/>).</summary>
    public bool PackSft { get; init; }
    /// <summary>SFT conversations may name images outside the image root (off: annotation files may come from anywhere).</summary>
    public bool AllowImagesOutsideRoot { get; init; }
    /// <summary>What the loader's decoder accepts, and its budget of decode buffers in flight.</summary>
    public ImageLimits ImageLimits { get; init; } = ImageLimits.Default;
}
