namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Draws random scenes. Shapes are placed on fixed slots of their region (jittered a little), so they never
/// overlap and placement never needs rejection loops.
/// </summary>
public static class SceneSampler
{
    private const float SmallRadius = 0.12f;
    private const float LargeRadius = 0.15f;

    public static Scene Sample(Random rng)
    {
        var shape = Pick(rng, SceneVocabulary.Shapes);
        var color = Pick(rng, SceneVocabulary.ObjectColors);
        var background = Pick(rng, SceneVocabulary.BackgroundColors);
        var position = Pick(rng, SceneVocabulary.Positions);
        var size = rng.Next(2) == 0 ? SceneSize.Small : SceneSize.Large;
        int count = rng.Next(SceneVocabulary.MinCount, SceneVocabulary.MaxCount + 1);
        return new Scene(shape, color, count, position, size, background, Place(rng, position, size, count));
    }

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    /// <summary>Largest jitter of a shape's centre around its slot (fraction of the side; slots are 0.32 apart).</summary>
    private const float SlotJitter = 0.01f;

    /// <summary>
    /// Shapes sit on fixed slots of their region, 0.32 apart so even two large shapes (radius 0.15) do not overlap:
    /// a column at x = 0.18 (left) or 0.82 (right), a row at y = 0.18 (top) or 0.82 (bottom), and around the centre.
    /// Fewer shapes than slots take the middle ones, so a group's centre always lies in its own region and no
    /// scene is ambiguous (a lone "left" shape in a corner would also be a "top" one). The shapes are this large
    /// because the VLM's tower sees 8x8 patches: a shape inside a single patch is a detail a tiny VLM does not learn
    /// to read in a demo's budget (measured: a one-patch square's colour was never learnt, a two-patch one in 300 steps).
    /// </summary>
    private static IReadOnlyList<PlacedShape> Place(Random rng, ScenePosition position, SceneSize size, int count)
    {
        // Offsets along the group's line for 1, 2 or 3 shapes.
        float[] along = count switch { 1 => [0.5f], 2 => [0.34f, 0.66f], _ => [0.18f, 0.5f, 0.82f] };
        (float X, float Y)[] slots = position switch
        {
            ScenePosition.Left => along.Select(t => (0.18f, t)).ToArray(),
            ScenePosition.Right => along.Select(t => (0.82f, t)).ToArray(),
            ScenePosition.Top => along.Select(t => (t, 0.18f)).ToArray(),
            ScenePosition.Bottom => along.Select(t => (t, 0.82f)).ToArray(),
            _ => count switch
            {
                1 => [(0.5f, 0.5f)],
                2 => [(0.34f, 0.5f), (0.66f, 0.5f)],
                _ => [(0.5f, 0.32f), (0.33f, 0.62f), (0.67f, 0.62f)],
            },
        };
        float radius = size == SceneSize.Small ? SmallRadius : LargeRadius;
        var placed = new PlacedShape[count];
        for (int i = 0; i < count; i++)
            placed[i] = new PlacedShape(slots[i].X + Jitter(rng), slots[i].Y + Jitter(rng), radius, (float)(rng.NextDouble() * 30 - 15));
        return placed;
    }

    private static float Jitter(Random rng) => (float)((rng.NextDouble() * 2 - 1) * SlotJitter);
}
