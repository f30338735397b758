using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace OpenQwen2VL.Training.Checkpointing;

/// <summary>
/// Activation checkpointing for one decoder layer (TorchSharp has none): the forward runs without
/// autograd and keeps only the layer's input; the backward recomputes the layer with autograd on, from
/// that input and with the CPU RNG state of the original forward, and back-propagates through the
/// recomputation. Parameter gradients are accumulated by that inner backward (the "re-entrant" scheme of
/// torch.utils.checkpoint); the function returns the gradient of the input.
/// Plug it into the model's seam: <c>model.LayerCheckpoint = ActivationCheckpoint.Apply</c>.
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
        // The CPU generator's state, so dropout (if any) draws the same masks when recomputed.
        using (var state = get_rng_state()) ctx.save_data("rng", state.bytes.ToArray());
        return layer(input);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var layer = (Func<Tensor, Tensor>)ctx.get_data("layer");
        var saved = ctx.get_saved_variables()[0];
        var rng = (byte[])ctx.get_data("rng");
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
        }
    }
}
