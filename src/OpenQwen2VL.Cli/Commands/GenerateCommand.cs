using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// <c>oqvl generate</c>: loads a VLM (any model source), decodes and preprocesses the images with the vision tower's
/// transform, and prints the continuation of the prompt (greedy, or sampled: see <see cref="SamplingOptions"/>). Load reports go to stderr, the generated text to stdout.
/// </summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var model = new ModelOptions();
        var images = new Option<string[]>("--image") { Description = "image file(s), in the order of the <image> placeholders", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [], HelpName = "FILE" };
        var prompt = new Option<string>("--prompt") { Description = "prompt text; <image> marks where an image goes (default: one per image before the text)", Required = true };
        var maxNew = CommonOptions.Positive("--max-new-tokens", "most tokens to generate", 16);
        var showIds = new Option<bool>("--show-ids") { Description = "also print the prompt and generated token ids" };
        var sampling = new SamplingOptions();

        var cmd = new Command("generate", "Generation with images from a trained model (a run folder, a model folder or a released checkpoint): greedy, or sampled with --sample");
        model.AddTo(cmd);
        foreach (var o in new Option[] { images, prompt, maxNew, showIds }) cmd.Options.Add(o);
        sampling.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var paths = r.GetValue(images) ?? [];
            foreach (var path in paths)
                if (!File.Exists(path)) throw new CliUserException($"--image: file not found: {path}");
            using var loaded = model.Load(r, r.InvocationConfiguration.Error);
            var format = model.Format(r, loaded, PromptFormatChoice.Plain);
            var promptIds = PromptIds(loaded.Tokenizer, r.GetValue(prompt)!, paths.Length, format);
            long[] generated;
            using (NewDisposeScope())
            {
                var options = sampling.Options(r, r.GetValue(maxNew));
                var stop = sampling.StopCriteria(r, loaded.StopTokenIds, ids => loaded.Tokenizer.Decode(ids.Select(i => (int)i).ToArray(), skipSpecial: false));
                try { generated = loaded.Model.Generate([new GenerationPrompt(promptIds, Pixels(loaded, paths), stop)], options)[0]; }
                catch (PromptTooLongException e) { throw new CliUserException($"--prompt: {e.Message}"); }
            }
            var output = r.InvocationConfiguration.Output;
            if (r.GetValue(showIds))
            {
                output.WriteLine($"prompt ids: {JsonSerializer.Serialize(promptIds)}");
                output.WriteLine($"generated ids: {JsonSerializer.Serialize(generated)}");
            }
            output.WriteLine(loaded.Tokenizer.Decode(generated.Select(i => (int)i).ToArray(), skipSpecial: true));
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Prompt ids with image markers. Without placeholders, "&lt;image&gt;\n" per image goes first (LLaVA's layout).
    /// Plain: <c>&lt;s&gt;</c> first (unless the prompt starts with it), as the pre-training samples do. ChatML: one user
    /// turn (system prompt included) followed by the opened assistant turn. Open-qwen2vl: the released model's own
    /// template (<c>&lt;s&gt;</c> and its system turn first, up to <c>&lt;|im_end|&gt;assistant\n</c>).
    /// </summary>
    public static long[] PromptIds(ITextTokenizer tokenizer, string prompt, int images, PromptFormatChoice format)
    {
        int placeholders = prompt.Split(MultimodalTokens.ImagePlaceholder).Length - 1;
        if (placeholders == 0 && images > 0)
            prompt = string.Concat(Enumerable.Repeat(MultimodalTokens.ImagePlaceholder + "\n", images)) + prompt;
        else if (placeholders != images)
            throw new CliUserException($"the prompt has {placeholders} {MultimodalTokens.ImagePlaceholder} placeholders but {images} images were given");

        if (format == PromptFormatChoice.OpenQwen2vl)
            return new OpenQwen2VLPromptBuilder(tokenizer).PromptIds([new ChatTurn(ChatRole.User, prompt)]).Select(i => (long)i).ToArray();
        var ids = new List<int>();
        if (format == PromptFormatChoice.Chatml)
        {
            ids.AddRange(new ChatMlPromptBuilder(tokenizer).Build([new ChatTurn(ChatRole.User, prompt)]).InputIds);
            ids.AddRange(tokenizer.Encode($"{MultimodalTokens.ImStart}assistant\n"));
        }
        else
        {
            if (!prompt.StartsWith(MultimodalTokens.Bos, StringComparison.Ordinal)) ids.Add(MultimodalTokens.RequireId(tokenizer, MultimodalTokens.Bos));
            MultimodalTokens.EncodeWithImages(tokenizer, prompt, ids);
        }
        return ids.Select(i => (long)i).ToArray();
    }

    /// <summary>[N, 3, S, S] pixels in the vision tower's dtype and device, or null without images.</summary>
    static Tensor? Pixels(LoadedVlm loaded, IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) return null;
        var pre = loaded.Preprocessor;
        var data = new float[(long)paths.Count * pre.OutputLength];
        for (int i = 0; i < paths.Count; i++)
        {
            if (!ImageDecoder.TryDecode(BoundedFile.ReadAllBytes(paths[i], SftImageRoot.DefaultMaxImageBytes, "an image"), ImageLimits.Default, out var image, out var reason))
                throw new CliUserException($"--image: cannot use {paths[i]}: {reason}");
            pre.Preprocess(image!, data.AsSpan(i * pre.OutputLength, pre.OutputLength));
        }
        var weight = loaded.Model.VisionBackbone.parameters().First();
        return tensor(data, [paths.Count, 3, pre.Size, pre.Size]).to(weight.dtype, weight.device);
    }
}
