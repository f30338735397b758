using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;

namespace OpenQwen2VL.Tests.Training;

public class FlopEstimateTests
{
    [Fact]
    public void MatchesTheNotesPerSequenceCountForTheReferenceSetup()
    {
        // Qwen2.5-1.5B (tied embeddings) + SO400M run to its second-to-last block (26 of 27), 4096-token
        // packed sequence of 23 image-caption pairs: the notes give 5.6e13 FLOPs per sequence.
        long qwen = 151936L * 1536 + 28L * (1536L * 1536 * 2 + 2L * 1536 * 256 + 1536 + 2 * 256 + 3L * 1536 * 8960 + 2 * 1536) + 1536;
        long so400m = 428_000_000L * 26 / 27;
        long projector = 1152L * 1536 + 1536 + 1536L * 1536 + 1536;
        var shape = new ModelShape(qwen, 28, 1536, so400m, 26, 1152, 729, projector, 144);
        double f = FlopEstimate.PerSequence(shape, 4096, 23);
        Assert.InRange(f / 5.6e13, 0.95, 1.05);
    }
}
