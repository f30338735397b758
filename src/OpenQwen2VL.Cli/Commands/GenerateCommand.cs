using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// `oqvl generate`: assembles the VLM from HF folders (+ projector or a released prismatic checkpoint), decodes and
/// preprocesses the images with the vision tower's transform, and prints the greedy continuation of the prompt.
/// Load reports go to stderr, the generated text to stdout.
/// </summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var llm = new Option<string>("--llm") { Description = "HF Qwen2/Qwen2.5 folder (config.json, weights, tokenizer.json)", Required = true };
        var vision = new Option<string>("--vision") { Description = "HF SigLIP folder (SiglipModel or SiglipVisionModel)", Required = true };
        var projector = new Option<string?>("--projector") { Description = "Projector safetensors (mlp_projector.0/2)" };
        var prismatic = new Option<string?>("--prismatic") { Description = "Released Open-Qwen2VL prismatic-checkpoint.pt (projector + LLM weights)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json (default: the one in --llm)" };
        var images = new Option<string[]>("--image") { Description = "Image file(s), in the order of the <image> placeholders", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        var prompt = new Option<string>("--prompt") { Description = "Prompt text; <image> marks where an image goes (default: one per image before the text)", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a Qwen2 ChatML user turn and open the assistant turn" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 16 };
        var pool = new Option<int?>("--pool") { Description = "Pooled grid side (12 = 144 tokens; default: the full grid)" };
        var dtype = new Option<string>("--dtype") { Description = "fp32 | bf16 | fp16", DefaultValueFactory = _ => "fp32" };
        var device = new Option<string>("--device") { Description = "cpu | cuda | cuda:N", DefaultValueFactory = _ => "cpu" };
        var showIds = new Option<bool>("--show-ids") { Description = "Also print the prompt and generated token ids" };

        var cmd = new Command("generate", "Greedy generation with images from HF checkpoints (SigLIP + projector + Qwen2)");
        foreach (var o in new Option[] { llm, vision, projector, prismatic, tokenizer, images, prompt, chat, maxNew, pool, dtype, device, showIds }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var request = new GenerateRequest
            {
                Llm = r.GetValue(llm)!, Vision = r.GetValue(vision)!, Projector = r.GetValue(projector), Prismatic = r.GetValue(prismatic),
                Tokenizer = r.GetValue(tokenizer), Images = r.GetValue(images) ?? [], Prompt = r.GetValue(prompt)!, Chat = r.GetValue(chat),
                MaxNewTokens = r.GetValue(maxNew), Pool = r.GetValue(pool), DType = r.GetValue(dtype)!, Device = r.GetValue(device)!,
            };
            var result = Run(request, r.InvocationConfiguration.Error);
            var output = r.InvocationConfiguration.Output;
            if (r.GetValue(showIds))
            {
                output.WriteLine($"prompt ids: {JsonSerializer.Serialize(result.PromptIds)}");
                output.WriteLine($"generated ids: {JsonSerializer.Serialize(result.GeneratedIds)}");
            }
            output.WriteLine(result.Text);
            return 0;
        });
        return cmd;
    }

    /// <summary>What to generate from (the command's options).</summary>
    public sealed record GenerateRequest
    {
        public required string Llm { get; init; }
        public required string Vision { get; init; }
        public string? Projector { get; init; }
        public string? Prismatic { get; init; }
        public string? Tokenizer { get; init; }
        public required IReadOnlyList<string> Images { get; init; }
        public required string Prompt { get; init; }
        public bool Chat { get; init; }
        public int MaxNewTokens { get; init; } = 16;
        public int? Pool { get; init; }
        public string DType { get; init; } = "fp32";
        public string Device { get; init; } = "cpu";
    }

    public sealed record GenerateResult(long[] PromptIds, long[] GeneratedIds, string Text);

    /// <summary>Loads, builds the prompt, generates. User errors (paths, flags, undecodable images) throw <see cref="CliUserException"/>.</summary>
    public static GenerateResult Run(GenerateRequest request, TextWriter log)
    {
        if (request.MaxNewTokens < 1) throw new CliUserException("--max-new-tokens must be >= 1");
        foreach (var path in request.Images)
            if (!File.Exists(path)) throw new CliUserException($"--image: file not found: {path}");
        using var loaded = LoadVlm(request.Llm, request.Vision, request.Projector, request.Prismatic, request.Tokenizer, request.Pool,
            request.DType, request.Device, log);
        var promptIds = PromptIds(loaded.Tokenizer, request.Prompt, request.Images.Count, request.Chat);
        using var scope = NewDisposeScope();
        var pixels = Pixels(loaded, request.Images);
        var generated = loaded.Model.Generate(promptIds, pixels, request.MaxNewTokens, loaded.StopTokenIds);
        var text = loaded.Tokenizer.Decode(generated.Select(i => (int)i).ToArray(), skipSpecial: true);
        return new GenerateResult(promptIds, generated, text);
    }

    /// <summary>
    /// The VLM from the `--llm --vision (--projector | --prismatic)` flags that `generate` and `evaluate` share,
    /// with the load reports written to <paramref name="log"/>. Bad paths and checkpoints throw <see cref="CliUserException"/>.
    /// </summary>
    public static LoadedVlm LoadVlm(string llm, string vision, string? projector, string? prismatic, string? tokenizer, int? pool,
        string dtype, string device, TextWriter log)
    {
        if ((projector is null) == (prismatic is null)) throw new CliUserException("give exactly one of --projector and --prismatic");
        foreach (var (path, flag) in new[] { (llm, "--llm"), (vision, "--vision") })
            if (!Directory.Exists(path)) throw new CliUserException($"{flag}: folder not found: {path}");
        foreach (var (path, flag) in new[] { (projector, "--projector"), (prismatic, "--prismatic"), (tokenizer, "--tokenizer") })
            if (path is not null && !File.Exists(path) && !(flag == "--prismatic" && Directory.Exists(path))) throw new CliUserException($"{flag}: file not found: {path}");
        var options = new VlmLoadOptions
        {
            LlmPath = llm, VisionPath = vision, ProjectorPath = projector, PrismaticPath = prismatic,
            TokenizerPath = tokenizer, DType = ParseDType(dtype), Device = ParseDevice(device), PoolSide = pool,
        };
        LoadedVlm loaded;
        try { loaded = VlmLoader.Load(options); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException or JsonException)
        { throw new CliUserException(e.Message); } // CheckpointMismatchException, missing files and bad configs are IOExceptions or the like
        foreach (var report in loaded.Reports) log.WriteLine(report);
        if (loaded.AddedTokens.Count > 0)
            log.WriteLine($"added special tokens {string.Join(" ", loaded.AddedTokens)}" + (loaded.EmbeddingsResized ? $", embeddings resized to {loaded.Tokenizer.VocabSize}" : ""));
        return loaded;
    }

    /// <summary>
    /// Prompt ids with image markers. Without placeholders, "&lt;image&gt;\n" per image goes first (LLaVA's layout).
    /// Chat: one ChatML user turn (system prompt included) followed by the opened assistant turn.
    /// </summary>
    public static long[] PromptIds(ITextTokenizer tokenizer, string prompt, int images, bool chat)
    {
        int placeholders = prompt.Split(MultimodalTokens.ImagePlaceholder).Length - 1;
        if (placeholders == 0 && images > 0)
            prompt = string.Concat(Enumerable.Repeat(MultimodalTokens.ImagePlaceholder + "\n", images)) + prompt;
        else if (placeholders != images)
            throw new CliUserException($"the prompt has {placeholders} {MultimodalTokens.ImagePlaceholder} placeholders but {images} images were given");

        var ids = new List<int>();
        if (chat)
        {
            ids.AddRange(new ChatMlPromptBuilder(tokenizer).Build([new ChatTurn(ChatRole.User, prompt)]).InputIds);
            ids.AddRange(tokenizer.Encode($"{MultimodalTokens.ImStart}assistant\n"));
        }
        else MultimodalTokens.EncodeWithImages(tokenizer, prompt, ids);
        return ids.Select(i => (long)i).ToArray();
    }

    /// <summary>[N, 3, S, S] pixels in the vision tower's dtype and device, or null without images.</summary>
    private static Tensor? Pixels(LoadedVlm loaded, IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) return null;
        var pre = loaded.Preprocessor;
        var data = new float[(long)paths.Count * pre.OutputLength];
        for (int i = 0; i < paths.Count; i++)
        {
            if (!ImageDecoder.TryDecode(File.ReadAllBytes(paths[i]), ImageLimits.Default, out var image, out var reason))
                throw new CliUserException($"--image: cannot use {paths[i]}: {reason}");
            pre.Preprocess(image!, data.AsSpan(i * pre.OutputLength, pre.OutputLength));
        }
        var weight = loaded.Model.VisionBackbone.parameters().First();
        return tensor(data, [paths.Count, 3, pre.Size, pre.Size]).to(weight.dtype, weight.device);
    }

    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" => ScalarType.Float16,
        _ => throw new CliUserException($"unknown --dtype '{name}' (fp32 | bf16 | fp16)"),
    };

    public static Device ParseDevice(string name)
    {
        if (name == "cpu") return CPU;
        if (!name.StartsWith("cuda", StringComparison.Ordinal)) throw new CliUserException($"unknown --device '{name}' (cpu | cuda | cuda:N)");
        if (!cuda.is_available()) throw new CliUserException($"--device {name}: CUDA is not available in this build (set OQVL_TORCH_BACKEND=cuda)");
        return new Device(name);
    }
}
