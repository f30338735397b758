using OpenQwen2VL.Training.Model;

namespace OpenQwen2VL.Training.Observability;

/// <summary>
/// Training FLOPs of one packed sequence, as counted in docs/notes/open-qwen2vl.md: LLM 6·N·T (N = all LLM parameters, tied
/// embedding once, so the LM head matmul is included), causal attention 6·L·d·T² (forward QKᵀ and AV is
/// 4·L·d·T², halved by the causal mask, times 3 for backward), the frozen vision forward per image
/// 2·N_v·P + 4·L_v·d_v·P² (times 3 when the tower trains), and the projector 6·N_p per visual token.
/// Packing puts no mask between samples, so attention spans the whole sequence.
/// </summary>
public static class FlopEstimate
{
    public static double PerSequence(ModelShape m, long positions, int images, bool visionTrains = false)
    {
        double t = positions;
        double llm = 6.0 * m.LlmParameters * t;
        double attention = 6.0 * m.LlmLayers * m.LlmHidden * t * t;
        double p = m.PatchesPerImage;
        double visionForward = 2.0 * m.VisionParameters * p + 4.0 * m.VisionLayers * m.VisionHidden * p * p;
        double vision = images * visionForward * (visionTrains ? 3 : 1);
        double projector = 6.0 * m.ProjectorParameters * m.VisualTokensPerImage * images;
        return llm + attention + vision + projector;
    }
}
