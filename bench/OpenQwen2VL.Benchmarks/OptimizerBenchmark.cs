using System.Diagnostics;
using OpenQwen2VL.Training.Optim;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// One AdamW step over the trainable parameters of the training benchmark's 48M LM (same shapes, same weight-decay
/// groups; 4 layers and 20M with --quick), on the CPU with the torch thread count: the fused one-pass kernel against
/// the tensor path (ten ops per parameter), in the same process, alternating, best of several steps each. Also the
/// bytes each step must move at least (parameter, gradient and both moments read, three written: 28 bytes per element)
/// per second, against the memory bandwidth of a plain tensor copy measured alongside.
/// </summary>
public sealed class OptimizerBenchmark : IBenchmark
{
    public string Name => "optimizer";
    public string Description => "AdamW step on the 48M LM's parameters, CPU: fused one-pass kernel vs tensor ops, and the bandwidth it reaches";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        int layers = quick ? 4 : 14, rounds = quick ? 3 : 6;
        using var model = TrainingBenchmark.BuildModel(layers);
        model.SetTrainable(llm: true, projector: true, vision: false);   // as in pre-training: the tower is frozen
        var shapes = model.Parameters().Where(p => p.Parameter.requires_grad)
            .Select(p => (p.Parameter.shape, Decay: p.Parameter.dim() >= 2 && !p.Key.EndsWith(".bias"))).ToList();
        long elements = shapes.Sum(s => s.shape.Aggregate(1L, (a, b) => a * b));
        manual_seed(3);
        var fusedParams = shapes.Select(s => randn(s.shape)).ToList();
        var tensorParams = fusedParams.Select(p => p.clone()).ToList();
        var grads = shapes.Select(s => randn(s.shape)).ToList();
        using var fused = new MaskedAdamW(fusedParams.Select((p, i) => ($"p{i}", p, shapes[i].Decay ? 0.1 : 0)), 0.9, 0.95, 1e-8);
        using var plain = new MaskedAdamW(tensorParams.Select((p, i) => ($"p{i}", p, shapes[i].Decay ? 0.1 : 0)), 0.9, 0.95, 1e-8) { UseFusedCpuKernel = false };
        using var apply = ones(1).squeeze();
        using var copySource = randn(elements);
        using var copyTarget = empty(elements);

        double bestFused = double.MaxValue, bestPlain = double.MaxValue, bestCopy = double.MaxValue;
        for (int r = 0; r < rounds + 1; r++)   // round 0 warms up
        {
            double f = Time(() => fused.Step(grads, 1e-4, apply));
            double p = Time(() => plain.Step(grads, 1e-4, apply));
            double c = Time(() => copyTarget.copy_(copySource));
            if (r == 0) continue;
            bestFused = Math.Min(bestFused, f); bestPlain = Math.Min(bestPlain, p); bestCopy = Math.Min(bestCopy, c);
        }
        foreach (var t in fusedParams.Concat(tensorParams).Concat(grads)) t.Dispose();

        string w = $"{elements / 1e6:F1}M parameters in {shapes.Count} tensors ({layers}-layer LM), {get_num_threads()} torch threads";
        const double bytesPerElement = 28;   // p, g, m, v read; p, m, v written
        yield return new BenchRow($"{w}: tensor ops (10 per parameter)", "s/step", bestPlain, "s");
        yield return new BenchRow($"{w}: fused CPU kernel", "s/step", bestFused, "s", "tensor ops", bestPlain / bestFused);
        yield return new BenchRow("fused CPU kernel: the step's minimum traffic (28 B/element) per second", "bandwidth",
            elements * bytesPerElement / bestFused / 1e9, "GB/s", "tensor copy (8 B/element)", elements * bytesPerElement / bestFused / (elements * 8.0 / bestCopy));
        yield return new BenchRow("tensor copy of the same element count", "bandwidth", elements * 8.0 / bestCopy / 1e9, "GB/s");
        if (File.Exists("/proc/loadavg"))
            yield return new BenchRow($"machine load during the run ({Environment.ProcessorCount} cores)", "1-min load average",
                double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture), "");
    }

    static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalSeconds;
    }
}
