using OpenQwen2VL.Training.Model;

namespace OpenQwen2VL.Training.Observability;

/// <summary>
/// Useful training FLOPs of one packed sequence, as /work/shared/notes/open-qwen2vl.md counts them for MFU:
/// - LLM: 6·N·T (forward 2·N·T, backward 4·N·T; N = all LLM parameters with the tied embedding once, so the LM head
///   matmul is in). A frozen LLM still back-propagates to its inputs when the projector trains: 4·N·T.
/// - causal attention: 6·L·d·T² (forward QKᵀ and AV is 4·L·d·T², halved by the causal mask, times 3 with backward;
///   attention has no weights, so a frozen LLM's backward costs the same). Packing puts no mask between samples, so
///   attention spans the whole sequence.
/// - the frozen vision tower's forward per image: 2·N_v·P + 4·L_v·d_v·P² (times 3 when the tower trains).
/// - the projector: 6·N_p per visual token.
/// Recomputation under activation checkpointing is not useful work and is not counted: MFU with checkpointing is lower.
/// </summary>
public static class FlopEstimate
{
    public static double PerSequence(ModelShape m, long positions, int images, bool visionTrains = false, bool llmTrains = true)
    {
        double t = positions;
        double llm = (llmTrains ? 6.0 : 4.0) * m.LlmParameters * t;
        double attention = 6.0 * m.LlmLayers * m.LlmHidden * t * t;
        double p = m.PatchesPerImage;
        double visionForward = 2.0 * m.VisionParameters * p + 4.0 * m.VisionLayers * m.VisionHidden * p * p;
        double vision = images * visionForward * (visionTrains ? 3 : 1);
        double projector = 6.0 * m.ProjectorParameters * m.VisualTokensPerImage * images;
        return llm + attention + vision + projector;
    }
}
