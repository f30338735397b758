using System.CommandLine;
using System.CommandLine.Parsing;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Options;

/// <summary>Floating dtype of a model's parameters.</summary>
public enum DTypeChoice { Fp32, Bf16, Fp16 }

/// <summary>
/// The options every command spells the same way, with one meaning and one default: <c>--out</c>, <c>--model</c> (and
/// the explicit parts <c>--llm/--vision/--projector/--tokenizer</c>), <c>--device</c>, <c>--dtype</c>, <c>--seed</c>,
/// <c>--visual-tokens</c>. Choices are enums, so <c>--help</c> lists them; ranges are validators, so a bad value is a
/// parse error (one line, exit 2) before anything runs.
/// </summary>
public static class CommonOptions
{
    /// <summary>The recipe's seed (docs/notes/open-qwen2vl.md: pre-training seed 7), the default of every command.</summary>
    public const int DefaultSeed = 7;

    public static Option<string> Out(string description, bool required = true, string? defaultValue = null)
    {
        var o = new Option<string>("--out") { Description = description, Required = required && defaultValue is null, HelpName = "DIR" };
        if (defaultValue is not null) o.DefaultValueFactory = _ => defaultValue;
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } value && File.Exists(value)) r.AddError($"--out {value}: is a file, expected a folder");
        });
        return o;
    }

    public static Option<string?> Model(string description =
        "model: a model folder (a run's final/), a run folder (its final/ or latest checkpoint), or a released Open-Qwen2VL .pt (with --llm, and --vision unless the .pt holds the tower)") =>
        new("--model") { Description = description, HelpName = "SOURCE" };

    public static Option<string?> Llm() => new("--llm") { Description = "HF Qwen2/Qwen2.5 folder (config.json, weights, tokenizer.json): with --vision instead of --model, or the config and tokenizer of a released .pt", HelpName = "DIR" };
    public static Option<string?> Vision() => new("--vision") { Description = "HF SigLIP folder (SiglipModel or SiglipVisionModel): with --llm, or for a released .pt without its tower", HelpName = "DIR" };
    public static Option<string?> Projector() => new("--projector") { Description = "projector safetensors (mlp_projector.0/2) with --llm/--vision", HelpName = "FILE" };
    public static Option<string?> Tokenizer(string description = "tokenizer.json (default: the model's own)") => new("--tokenizer") { Description = description, HelpName = "FILE" };

    /// <summary><c>--device cpu|cuda|cuda:N</c>, checked once at parse time (a CUDA device on a CPU-only build is a one-line error).</summary>
    public static Option<string> Device()
    {
        var o = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu", HelpName = "cpu|cuda|cuda:N" };
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } value && DeviceError(value) is { } error) r.AddError(error);
        });
        return o;
    }

    public static Option<DTypeChoice> DType(DTypeChoice defaultValue = DTypeChoice.Fp32) => Enum<DTypeChoice>("--dtype", "floating dtype of the parameters", defaultValue);

    public static Option<int> Seed(string description = "seed (same seed, same result)") =>
        new("--seed") { Description = description, DefaultValueFactory = _ => DefaultSeed, HelpName = "N" };

    /// <summary><c>--visual-tokens N</c>: visual tokens per image, a square (the projector pools the patch grid to its side).</summary>
    public static Option<int?> VisualTokens(string description)
    {
        var o = new Option<int?>("--visual-tokens") { Description = description, HelpName = "N" };
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && (n < 1 || (int)Math.Round(Math.Sqrt(n)) is var s && s * s != n))
                r.AddError($"--visual-tokens {n}: must be a positive square (e.g. 16 = 4x4, 144 = 12x12, 729 = 27x27)");
        });
        return o;
    }

    /// <summary>An enum option whose help lists the choices in kebab-case (<c>MajorityPerType</c> is <c>majority-per-type</c>).</summary>
    public static Option<T> Enum<T>(string name, string description, T? defaultValue = null) where T : struct, System.Enum
    {
        var o = new Option<T>(name) { Description = description, HelpName = Choices<T>(), CustomParser = r => ParseChoice<T>(r) ?? default };
        if (defaultValue is T d) o.DefaultValueFactory = _ => d;
        else o.Required = true;
        return o;
    }

    /// <summary>An optional enum option (null when not given).</summary>
    public static Option<T?> OptionalEnum<T>(string name, string description) where T : struct, System.Enum =>
        new(name) { Description = description, HelpName = Choices<T>(), CustomParser = ParseChoice<T> };

    /// <summary>The kebab-case name of an enum value, as the command line writes it.</summary>
    public static string Kebab<T>(T value) where T : struct, System.Enum =>
        string.Concat(value.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    static string Choices<T>() where T : struct, System.Enum => string.Join('|', System.Enum.GetValues<T>().Select(Kebab));

    static T? ParseChoice<T>(ArgumentResult r) where T : struct, System.Enum
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        foreach (var v in System.Enum.GetValues<T>())
            if (string.Equals(Kebab(v), text, StringComparison.OrdinalIgnoreCase)) return v;
        r.AddError($"{(r.Parent as OptionResult)?.Option.Name ?? "value"} {text}: expected one of {Choices<T>().Replace("|", ", ")}");
        return null;
    }

    /// <summary>A positive integer option.</summary>
    public static Option<int> Positive(string name, string description, int defaultValue) =>
        new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" }.AtLeast(1);

    /// <summary>
    /// Most worker threads <c>--threads</c> takes: 4 per processor (more only adds contention and memory; the cap also
    /// keeps a typo such as 100000 from starting that many threads).
    /// </summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary><c>--threads N</c>, 1..<see cref="MaxThreads"/>, default one per processor.</summary>
    public static Option<int> Threads() =>
        new Option<int>("--threads") { Description = $"worker threads (1 to {MaxThreads}: 4 per processor)", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" }
            .InRange(1, MaxThreads);

    /// <summary>
    /// Most bytes <c>--max-member-bytes</c> takes: 1 GiB. A tar member is read whole into one array, so the cap is what
    /// one corrupt or hostile header can make the reader allocate; above this a member is no image or caption anyway.
    /// </summary>
    public const long MaxMemberBytesLimit = 1L << 30;

    /// <summary><c>--max-member-bytes</c> of the commands that read image-caption shards (pack, curate).</summary>
    public static Option<long> MaxMemberBytes() =>
        new Option<long>("--max-member-bytes")
        {
            Description = $"tar members larger than this are skipped (member_too_large) before they are read into memory (1 to {MaxMemberBytesLimit})",
            DefaultValueFactory = _ => OpenQwen2VL.Data.Shards.WebDatasetReader.DefaultMaxMemberBytes, HelpName = "BYTES",
        }.InRange(1L, MaxMemberBytesLimit);

    /// <summary>
    /// Most MiB <c>--decode-budget-mib</c> takes: 1 TiB. The budget bounds memory, so a larger one bounds nothing; the
    /// cap keeps a typo from overflowing the byte count.
    /// </summary>
    public const int MaxDecodeBudgetMib = 1 << 20;

    /// <summary><c>--decode-budget-mib</c> of the commands that decode images while streaming shards (pack, curate, train).</summary>
    public static Option<int> DecodeBudgetMib() =>
        new Option<int>("--decode-budget-mib")
        {
            Description = "memory for decoded images in flight across decode threads; decodes wait while it is taken, " +
                $"and an image larger than it decodes alone (1 to {MaxDecodeBudgetMib})",
            DefaultValueFactory = _ => (int)(PixelBudget.DefaultBytes >> 20), HelpName = "MIB",
        }.InRange(1, MaxDecodeBudgetMib);

    /// <summary>The image limits of a job with <c>--decode-budget-mib</c> = <paramref name="mib"/>: its own budget, not the process-wide one.</summary>
    public static ImageLimits WithDecodeBudget(this ImageLimits limits, int mib) =>
        limits with { DecodeBudget = new PixelBudget((long)mib << 20) };

    public static ScalarType ToScalarType(this DTypeChoice d) => d switch
    {
        DTypeChoice.Bf16 => ScalarType.BFloat16,
        DTypeChoice.Fp16 => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    /// <summary>The torch device of a validated <c>--device</c> value.</summary>
    public static TorchSharp.torch.Device ToDevice(string value) =>
        DeviceError(value) is { } error ? throw new StageContractException(error) : value == "cpu" ? CPU : new TorchSharp.torch.Device(value);

    static string? DeviceError(string value)
    {
        if (value == "cpu") return null;
        if (value != "cuda" && !(value.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(value.AsSpan(5), out int index) && index >= 0))
            return $"--device {value}: expected cpu, cuda or cuda:N";
        if (!cuda.is_available())
            return $"--device {value}: this build has no CUDA backend (or no GPU is visible): build with -p:TorchBackend=cuda (OQVL_TORCH_BACKEND=cuda ./oqvl ...) on a machine with an NVIDIA GPU";
        if (value.StartsWith("cuda:", StringComparison.Ordinal) && int.Parse(value.AsSpan(5)) >= cuda.device_count())
            return $"--device {value}: only {cuda.device_count()} CUDA device(s) are visible";
        return null;
    }
}
