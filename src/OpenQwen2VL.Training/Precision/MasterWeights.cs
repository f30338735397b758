using OpenQwen2VL.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Precision;

/// <summary>
/// Mixed precision done by hand (TorchSharp has no autocast): the model holds its weights in the compute
/// dtype; the optimiser works on fp32 master copies and fp32 gradient buffers. After each micro-batch the
/// compute-dtype gradients are added into the fp32 buffers (so accumulation happens in fp32), and after each
/// update the masters are copied back into the model. In fp32 the master is the parameter itself and its
/// .grad is the buffer: no copies.
/// </summary>
public sealed class MasterWeights : IDisposable
{
    public sealed class Entry
    {
        public required NamedParameter Model { get; set; }
        /// <summary>fp32 weights the optimiser updates.</summary>
        public required Tensor Master { get; init; }
        /// <summary>fp32 accumulated gradient (null in shared mode until the first backward).</summary>
        public Tensor? GradBuffer { get; set; }
        public string Key => Model.Key;
    }

    public IReadOnlyList<Entry> Entries { get; }
    public ScalarType ComputeDtype { get; }
    /// <summary>True when masters are the model's own fp32 parameters.</summary>
    public bool Shared => ComputeDtype == ScalarType.Float32;

    MasterWeights(IReadOnlyList<Entry> entries, ScalarType computeDtype)
    {
        Entries = entries;
        ComputeDtype = computeDtype;
    }

    /// <summary>
    /// Takes the model in fp32 (as loaded), copies the trainable weights to fp32 masters on
    /// <paramref name="device"/>, then converts the whole model to the compute dtype there.
    /// </summary>
    public static MasterWeights Create(ITrainableModel model, ScalarType computeDtype, Device device)
    {
        if (computeDtype == ScalarType.Float32)
        {
            model.ConvertTo(ScalarType.Float32, device);
            var shared = model.Parameters().Where(p => p.Parameter.requires_grad)
                .Select(p => new Entry { Model = p, Master = p.Parameter }).ToList();
            return new MasterWeights(shared, computeDtype);
        }
        var masters = new Dictionary<string, Tensor>();
        using (no_grad())
        using (NewDisposeScope())
        {
            foreach (var p in model.Parameters().Where(p => p.Parameter.requires_grad))
                masters[p.Key] = p.Parameter.detach().to(ScalarType.Float32, device).clone().DetachFromDisposeScope();
        }
        model.ConvertTo(computeDtype, device);
        var entries = model.Parameters().Where(p => masters.ContainsKey(p.Key))
            .Select(p => new Entry
            {
                Model = p, Master = masters[p.Key],
                GradBuffer = zeros_like(masters[p.Key]).DetachFromDisposeScope(),
            }).ToList();
        return new MasterWeights(entries, computeDtype);
    }

    /// <summary>After each micro-batch backward: move compute-dtype gradients into the fp32 buffers.</summary>
    public void AccumulateGrads()
    {
        if (Shared) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var e in Entries)
        {
            var g = e.Model.Parameter.grad;
            if (g is null) continue;
            e.GradBuffer!.add_(g, OpenQwen2VL.Model.CachedScalars.One); // explicit alpha: add_(Tensor) makes a temporary Scalar
            g.zero_();
        }
    }

    /// <summary>The fp32 gradients, one per entry; a parameter no backward reached gets zeros.</summary>
    public IReadOnlyList<Tensor> Grads()
    {
        if (!Shared) return Entries.Select(e => e.GradBuffer!).ToList();
        var list = new List<Tensor>(Entries.Count);
        foreach (var e in Entries)
        {
            var g = e.Model.Parameter.grad;
            if (g is null)
            {
                e.Model.Parameter.grad = zeros_like(e.Model.Parameter);
                g = e.Model.Parameter.grad!;
            }
            list.Add(g);
        }
        return list;
    }

    public void ZeroGrads()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var e in Entries)
        {
            e.Model.Parameter.grad?.zero_();
            e.GradBuffer?.zero_();
        }
    }

    /// <summary>After an update: copy the masters into the compute-dtype weights.</summary>
    public void CopyToModel()
    {
        if (Shared) return;
        using var _ = no_grad();
        foreach (var e in Entries) e.Model.Parameter.copy_(e.Master);
    }

    public void Dispose()
    {
        if (Shared) return;
        foreach (var e in Entries)
        {
            e.Master.Dispose();
            e.GradBuffer?.Dispose();
        }
    }
}
