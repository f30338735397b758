using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// Answers VQA prompts with a <see cref="VisionLanguageModel"/>: the prompt text is tokenized piece by piece
/// around its <c>&lt;image&gt;</c> placeholders (each becomes the image marker, as in the training data), the
/// images are preprocessed like the training images, and the answers are greedy-decoded in batches (≤ <see cref="MaxNewTokens"/>)
/// until an end token.
/// </summary>
public sealed class VlmAnswerGenerator : IVqaAnswerGenerator
{
    public const int MaxNewTokens = 16;

    private readonly VisionLanguageModel _vlm;
    private readonly ITextTokenizer _tokenizer;
    private readonly ImagePreprocessor _preprocessor;
    private readonly int? _bos;
    private readonly long[] _stop;
    // Pixels go in the vision tower's dtype (a bf16 model takes bf16 pixels) and to its device; read once.
    private readonly ScalarType _pixelType;
    private readonly Device _device;

    /// <param name="prependBos">start with <c>&lt;s&gt;</c> as the pre-training samples do (plain prompts)</param>
    public VlmAnswerGenerator(string name, VisionLanguageModel vlm, ITextTokenizer tokenizer, ImagePreprocessor preprocessor, bool prependBos)
    {
        Name = name;
        _vlm = vlm;
        _tokenizer = tokenizer;
        _preprocessor = preprocessor;
        _bos = prependBos ? tokenizer.TokenToId(MultimodalTokens.Bos) : null;
        _stop = new[] { MultimodalTokens.ImEnd, MultimodalTokens.EndOfChunk, "<|endoftext|>" }
            .Select(tokenizer.TokenToId).Where(id => id is not null).Select(id => (long)id!.Value).ToArray();
        var weight = vlm.VisionBackbone.parameters().First();
        (_pixelType, _device) = (weight.dtype, weight.device);
    }

    public string Name { get; }

    /// <summary>The prompt's token ids: text between <c>&lt;image&gt;</c> placeholders encoded piece by piece, each placeholder the image marker.</summary>
    public long[] PromptIds(VqaPrompt prompt)
    {
        var ids = new List<int>();
        int images;
        // The released model's template carries its own <s> and is tokenized turn by turn as the reference does.
        if (prompt.Text.StartsWith(OpenQwen2VLPromptBuilder.SystemTurn, StringComparison.Ordinal))
            images = new OpenQwen2VLPromptBuilder(_tokenizer).EncodeRendered(prompt.Text, ids);
        else
        {
            // <s> once: not again when the prompt text already starts with it.
            if (_bos is int bos && !prompt.Text.StartsWith(MultimodalTokens.Bos, StringComparison.Ordinal)) ids.Add(bos);
            images = MultimodalTokens.EncodeWithImages(_tokenizer, prompt.Text, ids);
        }
        if (images != prompt.ImagePaths.Count)
            throw new ArgumentException($"prompt has {images} image placeholders but {prompt.ImagePaths.Count} images");
        return ids.Select(t => (long)t).ToArray();
    }

    /// <summary>The id of a stop text that the tokenizer encodes as exactly one token.</summary>
    private long StopTokenId(string text) => _tokenizer.Encode(text) is [var id]
        ? id : throw new ArgumentException($"stop text {text} is not one token of this tokenizer");

    public string Generate(VqaPrompt prompt) => GenerateBatch([prompt])[0].AnswerOrThrow();

    /// <summary>
    /// Greedy answers of several prompts in one batched generation (rows of any length and image count); a prompt
    /// whose image cannot be read or that is too long for the model is a failed attempt and stays out of the batch.
    /// </summary>
    public IReadOnlyList<VqaAnswerAttempt> GenerateBatch(IReadOnlyList<VqaPrompt> prompts)
    {
        using var scope = NewDisposeScope();
        var attempts = new VqaAnswerAttempt?[prompts.Count];
        var rows = new List<GenerationPrompt>();
        var rowOf = new List<int>();
        var stops = new long[prompts.Count][];
        int maxPositions = _vlm.Llm.Config.MaxPositionEmbeddings;
        for (int i = 0; i < prompts.Count; i++)
        {
            var ids = PromptIds(prompts[i]);
            long length = _vlm.SplicedLength(ids);
            if (length >= maxPositions) { attempts[i] = new VqaAnswerAttempt(null, new PromptTooLongException((int)Math.Min(length, int.MaxValue), maxPositions)); continue; }
            // A protocol's stop texts (the reference harness stops at , . and newline) join the model's stop tokens for that row.
            stops[i] = prompts[i].StopTexts.Count == 0 ? _stop : [.. _stop, .. prompts[i].StopTexts.Select(StopTokenId)];
            try { rows.Add(new GenerationPrompt(ids, Pixels(prompts[i]), new StopCriteria(stops[i]))); rowOf.Add(i); }
            catch (UnreadableImageException e) { attempts[i] = new VqaAnswerAttempt(null, e); }
        }
        var outputs = _vlm.Generate(rows, GenerationOptions.Greedy(MaxNewTokens));
        for (int r = 0; r < rows.Count; r++)
        {
            var answer = outputs[r].Where(t => !stops[rowOf[r]].Contains(t)).Select(t => (int)t).ToArray();
            attempts[rowOf[r]] = new VqaAnswerAttempt(_tokenizer.Decode(answer, skipSpecial: true).Trim(), null);
        }
        return attempts.Select(a => a!).ToArray();
    }

    /// <summary>[n, 3, S, S] pixels of a prompt's images in the vision tower's dtype and device, or null without images.</summary>
    private Tensor? Pixels(VqaPrompt prompt)
    {
        if (prompt.ImagePaths.Count == 0) return null;
        var buffer = new float[prompt.ImagePaths.Count * _preprocessor.OutputLength];
        for (int i = 0; i < prompt.ImagePaths.Count; i++)
        {
            byte[] encoded = VqaImageFile.Read(prompt.ImagePaths[i]);
            if (!_preprocessor.TryPreprocess(encoded, ImageLimits.Default, buffer.AsSpan(i * _preprocessor.OutputLength, _preprocessor.OutputLength), out var reason))
                throw new UnreadableImageException(prompt.ImagePaths[i], reason ?? ImageSkipReasons.CorruptImage);
        }
        return tensor(buffer, [prompt.ImagePaths.Count, 3, _preprocessor.Size, _preprocessor.Size]).to(_pixelType, _device);
    }
}
