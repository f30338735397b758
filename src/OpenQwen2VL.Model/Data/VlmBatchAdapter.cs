using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Data;

/// <summary>Turns a torch-free <see cref="DataBatch"/> into the model's <see cref="VlmBatch"/> on a device.</summary>
public static class VlmBatchAdapter
{
    public static VlmBatch ToVlmBatch(this DataBatch batch, Device? device = null, ScalarType pixelType = ScalarType.Float32)
    {
        device ??= CPU;
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        // Built on the CPU from the managed arrays, then moved: one copy to the device each. disposeAfter frees the CPU
        // wrapper at once (to() always returns a new one) even where the caller holds no dispose scope.
        var ids = tensor(batch.InputIds, shape).to(device, disposeAfter: true);
        var labels = tensor(batch.Labels, shape).to(device, disposeAfter: true);
        Tensor? pixels = null;
        if (batch.ImageCount > 0)
        {
            // One copy straight into libtorch memory (tensor(float[]) would first clone the 14 MB array on the managed
            // heap): the batch's buffer may then go back to its loader.
            using var cpu = empty([batch.ImageCount, 3, batch.ImageSize, batch.ImageSize], ScalarType.Float32);
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch.Pixels.AsSpan(0, (int)cpu.numel())).CopyTo(cpu.bytes);
            pixels = cpu.to(pixelType, device);
        }
        // Segments stay on the CPU: the model reads them on the host to plan the splice.
        var segments = batch.SegmentIds is { } s ? tensor(s.Select(x => (long)x).ToArray(), shape) : null;
        return new VlmBatch { InputIds = ids, Labels = labels, PixelValues = pixels, SegmentIds = segments };
    }
}
