using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// Answers VQA prompts with a <see cref="VisionLanguageModel"/>: the prompt text is tokenized piece by piece
/// around its <c>&lt;image&gt;</c> placeholders (each becomes the image marker, as in the training data), the
/// images are preprocessed like the training images, and the answer is greedy-decoded (≤ <see cref="MaxNewTokens"/>)
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

    public string Generate(VqaPrompt prompt)
    {
        var ids = PromptIds(prompt);

        using var scope = NewDisposeScope();
        Tensor? pixels = null;
        if (prompt.ImagePaths.Count > 0)
        {
            var buffer = new float[prompt.ImagePaths.Count * _preprocessor.OutputLength];
            for (int i = 0; i < prompt.ImagePaths.Count; i++)
            {
                byte[] encoded = VqaImageFile.Read(prompt.ImagePaths[i]);
                if (!_preprocessor.TryPreprocess(encoded, ImageLimits.Default, buffer.AsSpan(i * _preprocessor.OutputLength, _preprocessor.OutputLength), out var reason))
                    throw new UnreadableImageException(prompt.ImagePaths[i], reason ?? ImageSkipReasons.CorruptImage);
            }
            pixels = tensor(buffer, [prompt.ImagePaths.Count, 3, _preprocessor.Size, _preprocessor.Size]).to(_pixelType, _device);
        }
        var stop = prompt.StopTexts.Count == 0 ? _stop : _stop.Concat(prompt.StopTexts.Select(StopTokenId)).ToArray();
        var output = _vlm.Generate(ids, pixels, MaxNewTokens, stop);
        var answer = output.Where(t => !stop.Contains(t)).Select(t => (int)t).ToArray();
        return _tokenizer.Decode(answer, skipSpecial: true).Trim();
    }
}
