using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenQwen2VL.Training.Checkpoints;

/// <summary>The non-tensor part of a checkpoint (trainer_state.json).</summary>
public sealed record TrainerState
{
    /// <summary>Optimiser steps completed (= the scheduler's step).</summary>
    public int Step { get; init; }
    public required JsonNode DataPosition { get; init; }
    /// <summary>libtorch CPU generator state.</summary>
    public required byte[] CpuRngState { get; init; }
    public int NonFiniteSkippedTotal { get; init; }
    public int NonFiniteInRow { get; init; }
    public double ElapsedSeconds { get; init; }

    static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public const string FileName = "trainer_state.json";

    public void Save(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Options));

    public static TrainerState Load(string dir) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(dir, FileName)), Options)
        ?? throw new InvalidDataException($"{dir}: empty {FileName}");
}
