namespace OpenQwen2VL.Synthetic;

/// <summary>Sizes and knobs of a synthetic dataset. Same options (seed included) give byte-identical files.</summary>
public sealed record SyntheticDatasetOptions
{
    public int Seed { get; init; } = 7;
    /// <summary>Image-caption pairs for pre-training (and for the filter to clean).</summary>
    public int PretrainPairs { get; init; } = 2000;
    /// <summary>LLaVA-style SFT records: one-image questions, multi-image conversations and caption requests (see the generator).</summary>
    public int SftRecords { get; init; } = 600;
    /// <summary>OBELICS-style interleaved documents (<see cref="SyntheticInterleavedDocuments"/>, JSONL); 0 writes none.</summary>
    public int InterleavedDocuments { get; init; }
    /// <summary>Images of the VQAv2-style evaluation split.</summary>
    public int EvalImages { get; init; } = 100;
    /// <summary>Questions per evaluation image (at most the number of question types, so they differ in type).</summary>
    public int QuestionsPerEvalImage { get; init; } = 2;
    /// <summary>Fraction of pre-training pairs whose caption is swapped for one that contradicts the image.</summary>
    public double NoiseFraction { get; init; } = 0.25;
    /// <summary>Probability that one simulated annotator departs from the true answer.</summary>
    public double AnnotatorDisagreement { get; init; } = 0.2;
    public int ImageSize { get; init; } = 64;
    public int SamplesPerShard { get; init; } = 500;

    /// <summary>Throws <see cref="ArgumentException"/> with a one-line reason when a value is out of range.</summary>
    public void Validate()
    {
        if (PretrainPairs < 1) throw new ArgumentException("pretrain pairs must be >= 1");
        if (SftRecords < 0) throw new ArgumentException("SFT records must be >= 0");
        if (InterleavedDocuments < 0) throw new ArgumentException("interleaved documents must be >= 0");
        if (EvalImages < 1) throw new ArgumentException("eval images must be >= 1");
        if (QuestionsPerEvalImage < 1 || QuestionsPerEvalImage > Enum.GetValues<VqaQuestionType>().Length)
            throw new ArgumentException($"questions per eval image must be in [1, {Enum.GetValues<VqaQuestionType>().Length}]");
        if (NoiseFraction is < 0 or > 1 || double.IsNaN(NoiseFraction)) throw new ArgumentException("noise fraction must be in [0, 1]");
        if (AnnotatorDisagreement is < 0 or >= 0.5 || double.IsNaN(AnnotatorDisagreement))
            throw new ArgumentException("annotator disagreement must be in [0, 0.5)");
        if (ImageSize is < 16 or > 1024) throw new ArgumentException("image size must be in [16, 1024]");
        if (SamplesPerShard is < 1 or > 10000) throw new ArgumentException("samples per shard must be in [1, 10000]");
    }
}
