using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Optim;

/// <summary>What the trainer needs of its optimiser over the fp32 masters: a masked step, and its state for checkpoints.</summary>
public interface IMasterOptimizer : IDisposable
{
    /// <param name="grads">one fp32 gradient per master, in the masters' order</param>
    /// <param name="lr">this step's learning rate</param>
    /// <param name="apply">fp32 scalar, 1 to update, 0 to leave everything unchanged</param>
    void Step(IReadOnlyList<Tensor> grads, double lr, Tensor apply);
    /// <summary>This rank's state tensors, by name, for its checkpoint file.</summary>
    IEnumerable<(string Name, Tensor Tensor)> StateTensors();
    /// <summary>Restores what <see cref="StateTensors"/> saved; every tensor must be present.</summary>
    void LoadState(Func<string, Tensor?> read);
    /// <summary>Bytes of optimizer state this rank holds (AdamW moments; the masters are counted by MasterWeights).</summary>
    long StateBytes { get; }
}
