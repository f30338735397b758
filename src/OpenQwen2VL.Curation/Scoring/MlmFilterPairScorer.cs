using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// MLM-Filter ratings: a VLM fine-tuned to rate a pair 0-100 on a metric is prompted with
/// <see cref="MlmFilterPrompts"/> per metric (the batch's images projected once, shared by every metric) and decoded greedily, in batches with the key/value cache, until a line
/// break or <see cref="MaxNewTokens"/> tokens. The ids follow the reference: the prompt text split at
/// <c>&lt;image&gt;</c>, each piece tokenized alone, the image marker between, and a space token appended.
/// Difference from the reference: it generates exactly 2 tokens, and Qwen's tokenizer splits digits, so a rating of
/// 100 comes out as "10"; 4 tokens up to the line break read it as 100. The output is parsed by the reference
/// filter's rule (<see cref="MlmFilterScoreParser"/>); unparseable text is kept in the raw column and scored missing.
/// </summary>
public sealed class MlmFilterPairScorer : IPairScorer
{
    public const string ScorerName = "mlm-filter";
    public const int MaxNewTokens = 4;

    private readonly VisionLanguageModel _vlm;
    private readonly ITextTokenizer _tokenizer;
    private readonly IReadOnlyList<MlmFilterMetric> _metrics;
    private readonly int _space;
    private readonly StopCriteria _stop;
    private readonly ScalarType _pixelType;
    private readonly Device _device;
    private readonly int _maxPositions;

    public string Name => ScorerName;
    public IReadOnlyList<ScoreColumn> Columns { get; }
    public ImagePreprocessor Preprocessor { get; }

    public MlmFilterPairScorer(VisionLanguageModel vlm, ITextTokenizer tokenizer, ImagePreprocessor preprocessor, IReadOnlyList<MlmFilterMetric> metrics)
    {
        if (metrics.Count == 0) throw new ArgumentException("name at least one MLM-Filter metric");
        _vlm = vlm;
        _tokenizer = tokenizer;
        _metrics = metrics;
        Preprocessor = preprocessor;
        Columns = metrics.Select(m => new ScoreColumn(m.Column, m.RawColumn)).ToArray();
        // The reference appends tokenizer(" ").input_ids[-1] (220 for Qwen) so the model starts with the digits.
        _space = tokenizer.Encode(" ") is { Length: > 0 } space ? space[^1] : throw new ArgumentException("the tokenizer encodes a space as nothing");
        var end = new[] { MultimodalTokens.ImEnd, "<|endoftext|>" }.Select(tokenizer.TokenToId).Where(id => id is not null).Select(id => (long)id!.Value).ToArray();
        _stop = new StopCriteria(end, ["\n"], ids => tokenizer.Decode(ids.Select(i => (int)i).ToArray()));
        var weight = vlm.VisionBackbone.parameters().First();
        (_pixelType, _device) = (weight.dtype, weight.device);
        _maxPositions = vlm.Llm.Config.MaxPositionEmbeddings;
    }

    /// <summary>The prompt ids of one pair and metric (the image marker where the image goes).</summary>
    public long[] PromptIds(string caption, MlmFilterMetric metric)
    {
        var ids = new List<int>();
        MultimodalTokens.EncodeWithImages(_tokenizer, MlmFilterPrompts.Prompt(caption, metric), ids);
        ids.Add(_space);
        return ids.Select(i => (long)i).ToArray();
    }

    public ScoredBatch Score(IReadOnlyList<ScoringPair> pairs, float[] pixels)
    {
        var values = new double?[_metrics.Count][];
        var raw = new string?[_metrics.Count][];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int s = Preprocessor.Size;
        var images = tensor(pixels, [pixels.Length / Preprocessor.OutputLength, 3, s, s]).narrow(0, 0, pairs.Count).to(_pixelType, _device);
        // The vision tower and projector run once per batch; every metric's prompts splice the same image tokens.
        var imageTokens = _vlm.ProjectImages(images);
        for (int m = 0; m < _metrics.Count; m++)
        {
            values[m] = new double?[pairs.Count];
            raw[m] = new string?[pairs.Count];
            var rows = new List<GenerationPrompt>();
            var rowOf = new List<int>();
            for (int i = 0; i < pairs.Count; i++)
            {
                // A caption that holds "<image>" would give the reference a second image slot with no image.
                if (pairs[i].Caption.Contains(MultimodalTokens.ImagePlaceholder, StringComparison.Ordinal)) continue;
                var ids = PromptIds(pairs[i].Caption, _metrics[m]);
                if (_vlm.SplicedLength(ids) + MaxNewTokens > _maxPositions) continue;
                rows.Add(new GenerationPrompt(ids, Stop: _stop, ImageTokens: imageTokens[i..(i + 1)]));
                rowOf.Add(i);
            }
            var outputs = rows.Count == 0 ? [] : _vlm.Generate(rows, GenerationOptions.Greedy(MaxNewTokens));
            for (int r = 0; r < rows.Count; r++)
            {
                string text = _tokenizer.Decode(outputs[r].Select(t => (int)t).ToArray(), skipSpecial: true);
                raw[m][rowOf[r]] = text;
                values[m][rowOf[r]] = MlmFilterScoreParser.TryParse(text, out long score) ? score : null;
            }
        }
        return new ScoredBatch(values, raw);
    }

    public void Dispose() { }
}
