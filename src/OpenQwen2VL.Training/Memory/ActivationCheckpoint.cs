using System.Reflection;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace OpenQwen2VL.Training.Memory;

/// <summary>
/// Activation checkpointing for one decoder layer (TorchSharp has none): the forward runs without
/// autograd and keeps only the layer's input; the backward recomputes the layer with autograd on, from
/// that input and with the CPU RNG state of the original forward, and back-propagates through the
/// recomputation. Parameter gradients are accumulated by that inner backward (the "re-entrant" scheme of
/// torch.utils.checkpoint); the function returns the gradient of the input.
/// Plug it into the model's seam: <c>model.LayerCheckpoint = ActivationCheckpoint.Apply</c>.
/// <para>
/// Tensors the layer closure captured (e.g. the rotary cos/sin of the decoder's forward) belong to the
/// model's dispose scope and are gone by the time backward runs. Forward therefore keeps an alias of each
/// captured <see cref="Tensor"/> field (found by reflection through the compiler's closure classes) and
/// backward puts those aliases back into the closure before recomputing, so the recomputation sees exactly
/// the forward's inputs. Fields typed as Parameter or module references are left alone (they outlive the step).
/// </para>
/// </summary>
public sealed class ActivationCheckpoint : SingleTensorFunction<ActivationCheckpoint>
{
    public override string Name => nameof(ActivationCheckpoint);

    /// <summary>Runs <paramref name="layer"/> on <paramref name="input"/>, checkpointed when autograd is recording.</summary>
    public static Tensor Apply(Func<Tensor, Tensor> layer, Tensor input)
    {
        if (!is_grad_enabled()) return layer(input);
        return apply(layer, input);
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var layer = (Func<Tensor, Tensor>)vars[0];
        var input = (Tensor)vars[1];
        ctx.save_for_backward([input]);
        ctx.save_data("layer", layer);
        ctx.save_data("captured", CaptureClosureTensors(layer.Target, []));
        // The CPU generator's state, so dropout (if any) draws the same masks when recomputed.
        using (var state = get_rng_state()) ctx.save_data("rng", state.bytes.ToArray());
        return layer(input);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var layer = (Func<Tensor, Tensor>)ctx.get_data("layer");
        var saved = ctx.get_saved_variables()[0];
        var rng = (byte[])ctx.get_data("rng");
        var captured = (List<CapturedTensor>)ctx.get_data("captured");
        foreach (var c in captured) c.Field.SetValue(c.Owner, c.Alias);
        using var current = get_rng_state();
        using var savedState = tensor(rng);
        set_rng_state(savedState);
        try
        {
            using var grad = enable_grad();
            var input = saved.detach().requires_grad_(saved.requires_grad);
            var output = layer(input);
            TorchSharp.torch.autograd.backward([output], [gradOutput]);
            return [null!, saved.requires_grad ? input.grad! : null!];
        }
        finally
        {
            set_rng_state(current);
            foreach (var c in captured) c.Alias.Dispose();
        }
    }

    sealed record CapturedTensor(object Owner, FieldInfo Field, Tensor Alias);

    static List<CapturedTensor> CaptureClosureTensors(object? closure, HashSet<object> seen)
    {
        var found = new List<CapturedTensor>();
        if (closure is null || !closure.GetType().IsDefined(typeof(CompilerGeneratedAttribute)) || !seen.Add(closure)) return found;
        foreach (var f in closure.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            var value = f.GetValue(closure);
            if (f.FieldType == typeof(Tensor) && value is Tensor t && !t.IsInvalid)
            {
                using var grad = enable_grad();   // an alias of a tensor that requires grad stays connected to it
                found.Add(new CapturedTensor(closure, f, t.alias().DetachFromDisposeScope()));
            }
            else if (value is not null && f.FieldType.IsDefined(typeof(CompilerGeneratedAttribute)))
                found.AddRange(CaptureClosureTensors(value, seen));
        }
        return found;
    }
}
