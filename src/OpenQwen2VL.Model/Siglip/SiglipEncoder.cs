using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>A stack of SigLIP blocks (<c>encoder.layers.N</c>); may hold fewer blocks than the config when used as a backbone.</summary>
public sealed class SiglipEncoder : nn.Module
{
    private readonly ModuleList<SiglipEncoderLayer> layers;

    public SiglipEncoder(SiglipEncoderConfig config, int numLayers, ScalarType? dtype = null) : base(nameof(SiglipEncoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, numLayers).Select(_ => new SiglipEncoderLayer(config, dtype)).ToArray());
        RegisterComponents();
    }

    public int Count => layers.Count;

    /// <summary>Runs blocks [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public Tensor Forward(Tensor x, int from, int to)
    {
        using var scope = NewDisposeScope();
        var h = x;
        for (int i = from; i < to; i++) h = layers[i].forward(h);
        return (ReferenceEquals(h, x) ? x.alias() : h).MoveToOuterDisposeScope();
    }
}
