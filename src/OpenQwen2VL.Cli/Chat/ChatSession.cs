using OpenQwen2VL.Cli.Commands;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Cli.Serving;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Chat;

/// <summary>
/// <c>oqvl chat</c>'s conversation: reads lines, answers each message with the model (tokens printed as they come),
/// <c>/image PATH</c> attaches an image to the next message, <c>/reset</c> forgets the conversation, <c>/exit</c> (or the
/// end of input) ends it. The history is kept within the context: the oldest turns are dropped, with a note. Answers
/// go to <c>output</c>, notes to <c>notes</c>. Everything runs on the caller's thread (libtorch included).
/// </summary>
public sealed class ChatSession(LoadedVlm model, PromptFormatChoice format, GenerationOptions options, TextWriter output, TextWriter notes)
{
    private readonly List<(ChatMessage Message, IReadOnlyList<float[]> Images)> history = [];
    private readonly List<float[]> attached = [];

    /// <param name="prompt">text shown before each line is read (a terminal's "> "; empty when input is piped)</param>
    public void Run(TextReader input, string prompt = "")
    {
        while (true)
        {
            if (prompt.Length > 0) { output.Write(prompt); output.Flush(); }
            var line = input.ReadLine();
            if (line is null || line.Trim() == "/exit") return;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line == "/reset")
            {
                history.Clear();
                attached.Clear();
                notes.WriteLine("(conversation cleared)");
            }
            else if (line.StartsWith("/image ", StringComparison.Ordinal)) Attach(line["/image ".Length..].Trim());
            else if (line.StartsWith('/')) notes.WriteLine($"unknown command {line.Split(' ')[0]}: /image PATH, /reset, /exit");
            else Answer(line);
        }
    }

    private void Attach(string path)
    {
        var pre = model.Preprocessor;
        var pixels = new float[pre.OutputLength];
        try
        {
            if (!pre.TryPreprocess(BoundedFile.ReadAllBytes(path, SftImageRoot.DefaultMaxImageBytes, "an image"), ImageLimits.Default, pixels, out var reason))
            {
                notes.WriteLine($"cannot use {path}: {reason}");
                return;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            notes.WriteLine($"cannot read {path}: {e.Message}");
            return;
        }
        attached.Add(pixels);
        notes.WriteLine($"(image {path} attached to the next message)");
    }

    private void Answer(string text)
    {
        if (text.Contains(MultimodalTokens.ImagePlaceholder, StringComparison.Ordinal))
        {
            notes.WriteLine($"use /image PATH instead of {MultimodalTokens.ImagePlaceholder}");
            return;
        }
        string withImages = string.Concat(Enumerable.Repeat(MultimodalTokens.ImagePlaceholder + "\n", attached.Count)) + text;
        history.Add((new ChatMessage(ChatRole.User, withImages), attached.ToArray()));
        attached.Clear();
        int context = model.Model.Config.Llm.MaxPositionEmbeddings;
        long[] ids;
        while (true)
        {
            ids = ServeCommand.PromptIds(model.Tokenizer, history.Select(h => h.Message).ToList(), format);
            // Room for the answer too; the oldest turn (a user message and its answer) goes first.
            if (model.Model.SplicedLength(ids) + Math.Min(options.MaxNewTokens, context / 4) < context || history.Count == 1) break;
            history.RemoveRange(0, Math.Min(2, history.Count - 1));
            notes.WriteLine("(the oldest turn was dropped to stay within the context)");
        }
        if (model.Model.SplicedLength(ids) >= context)
        {
            history.Clear();
            notes.WriteLine($"the message takes {model.Model.SplicedLength(ids)} tokens; the model's context is {context}");
            return;
        }
        var streamed = new StreamingText(ids => model.Tokenizer.Decode(ids.Select(i => (int)i).ToArray(), skipSpecial: true), []);
        using (NewDisposeScope())
        {
            var images = history.SelectMany(h => h.Images).ToList();
            Tensor? pixels = null;
            if (images.Count > 0)
            {
                var pre = model.Preprocessor;
                var weight = model.Model.VisionBackbone.parameters().First();
                pixels = tensor(images.SelectMany(i => i).ToArray(), [images.Count, 3, pre.Size, pre.Size]).to(weight.dtype, weight.device);
            }
            model.Model.Generate([new GenerationPrompt(ids, pixels, new StopCriteria(model.StopTokenIds))], options, (_, id) =>
            {
                output.Write(streamed.Add(id));
                output.Flush();
                return true;
            });
        }
        output.WriteLine(streamed.Finish());
        history.Add((new ChatMessage(ChatRole.Assistant, streamed.Text), []));
    }
}
