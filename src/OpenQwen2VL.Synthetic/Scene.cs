namespace OpenQwen2VL.Synthetic;

/// <summary>One drawn shape: centre and radius as fractions of the canvas side, rotation in degrees.</summary>
public readonly record struct PlacedShape(float CenterX, float CenterY, float Radius, float RotationDegrees);

/// <summary>
/// A procedural scene: one group of identical shapes (shape, colour, size) in one region of a plain
/// background. Everything a caption or a question says about the image is read from here, so the
/// ground truth of every caption and answer is known.
/// </summary>
public sealed record Scene(
    SceneShape Shape,
    SceneColor Color,
    int Count,
    ScenePosition Position,
    SceneSize Size,
    SceneColor Background,
    IReadOnlyList<PlacedShape> Placements)
{
    /// <summary>True when a caption of <paramref name="other"/> would be wrong for this image (different colour or shape).</summary>
    public bool ContradictsInColorOrShape(Scene other) => other.Shape != Shape || other.Color.Name != Color.Name;
}
