using OpenQwen2VL.Training.Model;

namespace OpenQwen2VL.Training.Optim;

/// <summary>Parameters sharing a weight decay. The recipe: decay on matrices, none on biases and 1-D tensors.</summary>
public sealed record ParameterGroup(string Name, double WeightDecay, IReadOnlyList<NamedParameter> Parameters)
{
    public static IReadOnlyList<ParameterGroup> DecayAndNoDecay(IEnumerable<NamedParameter> trainable, double weightDecay)
    {
        var all = trainable.ToList();
        return
        [
            new ParameterGroup("decay", weightDecay, all.Where(p => !p.IsNoDecay).ToList()),
            new ParameterGroup("no_decay", 0.0, all.Where(p => p.IsNoDecay).ToList()),
        ];
    }
}
