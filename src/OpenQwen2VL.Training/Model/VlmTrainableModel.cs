using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Model;

/// <summary>
/// The real <see cref="VisionLanguageModel"/> behind <see cref="ITrainableModel"/>. Components and names
/// come from the VLM's prismatic layout: <c>llm_backbone.llm.</c> + HF Qwen2 keys, <c>vision_backbone.</c>
/// + HF SigLIP keys, <c>projector.</c> + <c>mlp_projector.*</c>; the prefixes are stripped so each
/// component's file is in its own HF layout. The loss is the summed next-token cross-entropy in fp32.
/// </summary>
public sealed class VlmTrainableModel : ITrainableModel
{
    const string LlmPrefix = "llm_backbone.llm.", VisionPrefix = "vision_backbone.", ProjectorPrefix = "projector.";

    public VisionLanguageModel Vlm { get; }

    public VlmTrainableModel(VisionLanguageModel vlm)
    {
        Vlm = vlm;
        var all = Parameters();
        long Count(ModelComponent c) => all.Where(p => p.Component == c).Sum(p => p.NumElements);
        var cfg = vlm.Config;
        Shape = new ModelShape(
            Count(ModelComponent.Llm), cfg.Llm.NumHiddenLayers, cfg.Llm.HiddenSize,
            Count(ModelComponent.Vision), cfg.Vision.NumHiddenLayers - 1, cfg.Vision.HiddenSize, cfg.Vision.GridSide * cfg.Vision.GridSide,
            Count(ModelComponent.Projector), cfg.PoolSide * cfg.PoolSide);
    }

    public IReadOnlyList<NamedParameter> Parameters() =>
        Vlm.named_parameters().Select(np =>
        {
            var (name, p) = np;
            if (name.StartsWith(LlmPrefix, StringComparison.Ordinal)) return new NamedParameter(ModelComponent.Llm, name[LlmPrefix.Length..], p);
            if (name.StartsWith(VisionPrefix, StringComparison.Ordinal)) return new NamedParameter(ModelComponent.Vision, name[VisionPrefix.Length..], p);
            if (name.StartsWith(ProjectorPrefix, StringComparison.Ordinal)) return new NamedParameter(ModelComponent.Projector, name[ProjectorPrefix.Length..], p);
            throw new InvalidOperationException($"parameter '{name}' belongs to no VLM component");
        }).ToList();

    public (Tensor LossSum, Tensor TargetTokens) Forward(VlmBatch batch)
    {
        using var scope = NewDisposeScope();
        // Embed splices images in (vision under no_grad, so nothing of it is kept for backward) and expands
        // the labels; pixels go in the compute dtype.
        var dtype = Vlm.Projector.parameters().First().dtype;
        using var typed = new VlmBatch
        {
            InputIds = batch.InputIds.alias(), Labels = batch.Labels.alias(), PixelValues = batch.PixelValues?.to(dtype), SegmentIds = batch.SegmentIds?.alias(),
        };
        var inputs = Vlm.Embed(typed);
        // Packed SFT rows (segments): positions restart and attention stays inside each conversation.
        var hidden = Vlm.Llm.HiddenStates(inputs.Embeds, inputs.Segments);
        // The head runs only where a label is predicted (HF's logits_to_keep idea): in SFT that is a few answer tokens
        // per conversation, and the [tokens, vocab] logits were most of the step. The positions come from Embed's
        // host-side labels, so choosing them costs no device sync.
        var device = hidden.device;
        var at = tensor(inputs.PredictingPositions, device: device);
        var selected = hidden.reshape(-1, hidden.shape[2]).index_select(0, at);
        var targets = inputs.Labels.reshape(-1).index_select(0, at.add(OpenQwen2VL.Model.CachedScalars.One, OpenQwen2VL.Model.CachedScalars.One));
        var logits = Vlm.Llm.Head(selected).to(ScalarType.Float32);
        var loss = nn.functional.cross_entropy(logits, targets, reduction: nn.Reduction.Sum);
        var count = tensor((long)inputs.PredictingPositions.Length, device: device);
        return (loss.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    public void ConvertTo(ScalarType dtype, Device device)
    {
        using (var scope = NewDisposeScope())
        {
            var p = Vlm.parameters().First();
            if (p.dtype == dtype && p.device.type == device.type && p.device.index == device.index) return;
        }
        Vlm.to(dtype).to(device);
    }

    public Func<Func<Tensor, Tensor>, Tensor, Tensor>? LayerCheckpoint
    {
        get => Vlm.Llm.Decoder.LayerCheckpoint;
        set => Vlm.Llm.Decoder.LayerCheckpoint = value;
    }

    public void SetTrainable(bool llm, bool projector, bool vision)
    {
        foreach (var p in Parameters())
            p.Parameter.requires_grad = p.Component switch { ModelComponent.Llm => llm, ModelComponent.Projector => projector, _ => vision };
        // A frozen tower runs under no_grad (nothing kept for backward); an unfrozen one (SFT option) with autograd.
        Vlm.VisionTrainable = vision;
    }

    public ModelShape Shape { get; }
    public int VisualTokensPerImage => Vlm.Projector.PoolSide * Vlm.Projector.PoolSide;

    public void Dispose() => Vlm.Dispose();
}
