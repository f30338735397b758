using OpenQwen2VL.Data.Images;

namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// A model that scores image-caption pairs (SigLIP similarity, MLM-Filter ratings). The scoring job streams shards,
/// preprocesses each image with <see cref="Preprocessor"/> into a batch buffer and hands batches to
/// <see cref="Score"/>; the scorer owns its model and device.
/// </summary>
public interface IPairScorer : IDisposable
{
    /// <summary>The name on the command line and in the manifest (<c>siglip</c>, <c>mlm-filter</c>).</summary>
    string Name { get; }

    IReadOnlyList<ScoreColumn> Columns { get; }

    ImagePreprocessor Preprocessor { get; }

    /// <summary>
    /// Scores <paramref name="pairs"/>; the first n images of <paramref name="pixels"/> ([capacity, 3, S, S] floats, the
    /// job's one reused batch buffer) are theirs.
    /// </summary>
    ScoredBatch Score(IReadOnlyList<ScoringPair> pairs, float[] pixels);
}
