using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Training.Data;

/// <summary>
/// What a training stage checks between its data and its model before any compute. Each mismatch is one line that
/// names both values and the fix (<see cref="StageContractException"/>): it would otherwise surface as a libtorch
/// error mid-run, or not at all (images spliced at the wrong length, ids read with another tokenizer).
/// </summary>
public static class StageChecks
{
    /// <param name="modelTokens">visual tokens per image the stage will use</param>
    /// <param name="gridSide">the vision tower's patch grid side (the most tokens an image can give is its square)</param>
    public static void VisualTokens(TrainingData data, int modelTokens, int gridSide)
    {
        if (data.VisualTokens is not int packed || packed == modelTokens) return;
        int side = (int)Math.Round(Math.Sqrt(modelTokens));
        string fix = packed <= gridSide * gridSide
            ? $"repack with --visual-tokens {modelTokens} or train with --set visual_tokens={packed}"
            : $"repack with --visual-tokens {modelTokens} (this vision tower's grid is {gridSide}x{gridSide} = {gridSide * gridSide}, fewer than {packed})";
        throw new StageContractException(
            $"{data.Description} was packed for {VisualFacts.DescribeTokens(packed)}, but the model pools to {side}x{side} = {modelTokens}: {fix}");
    }

    public static void Tokenizer(TrainingData data, TokenizerFacts model, string modelTokenizerPath)
    {
        if (data.Tokenizer is not { } packed || string.IsNullOrEmpty(packed.Fingerprint) || packed.Fingerprint == model.Fingerprint) return;
        throw new StageContractException(
            $"{data.Description} was tokenized with tokenizer {packed.Describe()}, but the model's is {model.Describe()}: repack with --tokenizer {modelTokenizerPath}");
    }

    /// <param name="embeddingRows">rows of the model's token embedding</param>
    public static void Vocabulary(TrainingData data, long embeddingRows)
    {
        if (data.Tokenizer is not { VocabSize: > 0 } packed || packed.VocabSize <= embeddingRows) return;
        throw new StageContractException(
            $"{data.Description} holds ids up to {packed.VocabSize - 1:N0}, but the model's embedding has {embeddingRows:N0} rows: use a model with that tokenizer (a preset is sized from the data), or repack with the model's tokenizer");
    }

    public static void ImageSize(TrainingData data, int modelImageSize)
    {
        if (data.ImageSize is not int packed || packed >= modelImageSize) return;
        throw new StageContractException(
            $"{data.Description} was packed with images shrunk to {packed} px, but the model's vision tower takes {modelImageSize} px: repack with --image-size {modelImageSize}");
    }

    /// <param name="sequenceLength">the stage's sequence_length</param>
    /// <param name="maxPositions">the LLM's max_position_embeddings</param>
    public static void ContextLength(TrainingData data, int sequenceLength, int maxPositions)
    {
        if (data.ContextLength is not int packed) return;
        if (packed > maxPositions)
            throw new StageContractException(
                $"{data.Description} holds sequences of {packed:N0} tokens, but the model's context is {maxPositions:N0} positions: repack with --capacity {maxPositions}");
        if (packed > sequenceLength)
            throw new StageContractException(
                $"{data.Description} holds sequences of {packed:N0} tokens, but the stage trains at sequence_length {sequenceLength:N0}: train with --set sequence_length={packed} or repack with --capacity {sequenceLength}");
    }
}
