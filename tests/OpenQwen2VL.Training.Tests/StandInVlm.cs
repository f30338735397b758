using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Training;

/// <summary>
/// A tiny VLM-shaped stand-in for trainer tests: frozen "vision" (pool + linear), a linear projector, and a
/// token-local "LLM" (embedding, residual tanh layers going through the checkpoint seam, norm scale,
/// biased head). One image = one position. Optional dropout in the layers exercises RNG replay.
/// </summary>
public sealed class StandInVlm : ITrainableModel
{
    sealed class Net : nn.Module
    {
        public readonly Linear vision, projector, head;
        public readonly Embedding embed;
        public readonly ModuleList<Linear> layers;
        public readonly Parameter norm;

        public Net(int vocab, int width, int layerCount, long seed) : base("stand_in")
        {
            manual_seed(seed);
            vision = nn.Linear(12, 16);
            projector = nn.Linear(16, width);
            embed = nn.Embedding(vocab, width);
            layers = new ModuleList<Linear>(Enumerable.Range(0, layerCount).Select(_ => nn.Linear(width, width)).ToArray());
            norm = new Parameter(ones(width));
            head = nn.Linear(width, vocab);
            RegisterComponents();
        }
    }

    readonly Net _net;
    readonly double _dropout;
    public int Vocab { get; }

    public StandInVlm(int vocab = 64, int width = 32, int layers = 2, long seed = 1, double dropout = 0)
    {
        Vocab = vocab;
        _dropout = dropout;
        _net = new Net(vocab, width, layers, seed);
        long llm = _net.parameters().Sum(p => p.numel()) - _net.vision.parameters().Sum(p => p.numel()) - _net.projector.parameters().Sum(p => p.numel());
        Shape = new ModelShape(llm, layers, width, 12 * 16 + 16, 1, 16, 1, _net.projector.parameters().Sum(p => p.numel()), 1);
    }

    public Func<Func<Tensor, Tensor>, Tensor, Tensor>? LayerCheckpoint { get; set; }

    /// <summary>From this forward call on (0-based), the loss is NaN while the weights stay finite; null: never.</summary>
    public int? NanLossFromCall { get; set; }
    int _forwardCalls;
    public ModelShape Shape { get; }
    public int VisualTokensPerImage => 1;

    public IReadOnlyList<NamedParameter> Parameters() =>
        _net.named_parameters().Select(np =>
        {
            var (name, p) = np;
            var component = name.StartsWith("vision.") ? ModelComponent.Vision : name.StartsWith("projector.") ? ModelComponent.Projector : ModelComponent.Llm;
            string local = component == ModelComponent.Llm ? name : name[(name.IndexOf('.') + 1)..];
            return new NamedParameter(component, local, p);
        }).ToList();

    public void SetTrainable(bool llm, bool projector, bool vision)
    {
        foreach (var p in Parameters())
            p.Parameter.requires_grad = p.Component switch { ModelComponent.Llm => llm, ModelComponent.Projector => projector, _ => vision };
    }

    public void ConvertTo(ScalarType dtype, Device device)
    {
        var w = _net.norm;   // (Embedding.weight would allocate a new wrapper per call)
        if (w.dtype == dtype && w.device.type == device.type && w.device.index == device.index) return;
        _net.to(dtype).to(device);
    }

    public (Tensor LossSum, Tensor TargetTokens) Forward(VlmBatch batch)
    {
        using var scope = NewDisposeScope();
        var dtype = _net.norm.dtype;
        var ids = batch.InputIds;
        var isImage = ids.eq(VlmBatch.ImageMarker);
        var h = _net.embed.call(ids.masked_fill(isImage, 0));
        if (batch.PixelValues is not null)
        {
            Tensor features;
            using (no_grad())
                features = _net.vision.call(nn.functional.adaptive_avg_pool2d(batch.PixelValues.to(dtype), [2, 2]).flatten(1));
            var visual = _net.projector.call(features);
            h = h.masked_scatter(isImage.unsqueeze(-1).expand_as(h), visual);
        }
        foreach (var layer in _net.layers)
        {
            Tensor Block(Tensor x)
            {
                var y = layer.call(x).tanh();
                if (_dropout > 0) y = nn.functional.dropout(y, _dropout, training: true);
                return x + y;
            }
            h = LayerCheckpoint is { } ckpt ? ckpt(Block, h) : Block(h);
        }
        var logits = _net.head.call(h * _net.norm).to(ScalarType.Float32);
        var shiftedLogits = logits[.., ..^1].reshape(-1, Vocab);
        var shiftedLabels = batch.Labels[.., 1..].reshape(-1);
        var loss = nn.functional.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: VlmBatch.IgnoreIndex, reduction: nn.Reduction.Sum);
        var count = shiftedLabels.ne(VlmBatch.IgnoreIndex).sum();
        if (_forwardCalls++ >= NanLossFromCall) loss = loss * double.NaN;
        return (loss.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    public Dictionary<string, Tensor> Snapshot() =>
        Parameters().ToDictionary(p => p.Key, p => p.Parameter.detach().to(ScalarType.Float32).cpu().clone().DetachFromDisposeScope());

    public void Dispose() => _net.Dispose();
}
