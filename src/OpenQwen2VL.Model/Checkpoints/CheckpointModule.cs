using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// A module that is only a set of named parameters (dotted names become nested submodules, so named_parameters
/// gives the names back). Lets checkpoints be loaded, converted (dtype, sharding, format) and compared without
/// the network class, through the same loader and exporter the networks use.
/// </summary>
public sealed class CheckpointModule : nn.Module
{
    private readonly Dictionary<string, CheckpointModule> _children = new(StringComparer.Ordinal);

    private CheckpointModule(string name) : base(name) { }

    /// <summary>Zero-initialised parameters with the given names and shapes (floating ones in <paramref name="dtype"/>).</summary>
    public static CheckpointModule Create(IEnumerable<(string Name, long[] Shape, ScalarType DType)> layout, ScalarType? dtype = null)
    {
        var root = new CheckpointModule("checkpoint");
        foreach (var (name, shape, stored) in layout)
        {
            var type = dtype is ScalarType d && SafetensorsTensors.IsFloating(stored) ? d : stored;
            root.Add(name, new Parameter(zeros(shape, type), requires_grad: SafetensorsTensors.IsFloating(type)));
        }
        return root;
    }

    /// <summary>A module shaped like <paramref name="source"/> (every tensor becomes a parameter).</summary>
    public static CheckpointModule ShapedLike(ICheckpointTensors source, ScalarType? dtype = null) =>
        Create(source.Names.Select(n => (n, source.Shape(n), SafetensorsTensors.ToScalarType(source.DType(n)))), dtype);

    private void Add(string dotted, Parameter p)
    {
        int dot = dotted.IndexOf('.');
        if (dot < 0) { register_parameter(dotted, p); return; }
        var head = dotted[..dot];
        if (!_children.TryGetValue(head, out var child))
        {
            child = new CheckpointModule(head);
            _children[head] = child;
            register_module(head, child);
        }
        child.Add(dotted[(dot + 1)..], p);
    }
}
