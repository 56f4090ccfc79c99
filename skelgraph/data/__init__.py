"""Skeleton data, by job: read files, change arrays, compose transforms, serve a Dataset.

Arrays are (C, T, V, M) float32: channels, frames, joints, persons; an absent joint,
frame or person is all zeros.

- **Readers** (:mod:`skelgraph.data.readers`): one per file format, each returning a
  :class:`SkeletonSample`; malformed input raises :class:`SkeletonFormatError`.
- **Array functions**, NumPy arrays in and out: the paper's preprocessing
  (:mod:`~skelgraph.data.preprocess`), bone and motion features and resampling in time
  (:mod:`~skelgraph.data.features`), 2-D keypoints (:mod:`~skelgraph.data.keypoints2d`),
  clip sampling (:mod:`~skelgraph.data.sampling`), random augmentation
  (:mod:`~skelgraph.data.augment`).
- **Transforms** (:mod:`~skelgraph.data.transforms`): each array function as a callable,
  composable with :class:`Compose`.
- **Dataset** (:mod:`~skelgraph.data.dataset`): :class:`SkeletonDataset` serves
  ``(tensor, label)`` pairs, cached on disk under a key of the files, the reader and the
  preprocessing (:mod:`~skelgraph.data.cache_key`).
- **Pipeline** (:mod:`~skelgraph.data.pipeline`): how a sample becomes a model's input,
  stored in checkpoints as plain data; :class:`SampleDataset` serves samples it prepared.

Every public name of these modules is importable from ``skelgraph.data``.
"""

from skelgraph.data.augment import (
    as_generator,
    random_rotate,
    random_scale,
    random_shift,
    rotation_matrix_xyz,
)
from skelgraph.data.dataset import SkeletonDataset
from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.features import (
    bone_features,
    minmax_normalize,
    motion_features,
    resample_frames,
)
from skelgraph.data.keypoints2d import normalize_2d, threshold_scores
from skelgraph.data.pipeline import (
    SAMPLINGS,
    STREAMS,
    FitPersons,
    Pipeline,
    graph_from_config,
    graph_to_config,
)
from skelgraph.data.preprocess import (
    PREPROCESS_SPECS,
    JointRef,
    PreprocessSpec,
    align_to_axes,
    alignment_rotation,
    center_joints,
    fill_empty_frames,
    pad_to_length,
    paper_preprocess,
    rotation_about_axis,
)
from skelgraph.data.readers import (
    BODY25_TO_OPENPOSE18,
    MAX_PICKLE_BYTES,
    MSR_ACTION3D_JOINTS,
    MSR_ACTION3D_TO_KINECT_V1,
    NTU_XSUB120_TRAIN_SUBJECTS,
    NTU_XSUB_TRAIN_SUBJECTS,
    NTU_XVIEW_TRAIN_CAMERAS,
    NTUName,
    NUCLAName,
    body25_to_openpose18,
    body_energy,
    from_array,
    load_kinetics_labels,
    load_label_names,
    ntu_split,
    nucla_cross_view_split,
    parse_ntu_name,
    parse_nucla_name,
    read_array_file,
    read_joint_rows,
    read_kinetics_json,
    read_ntu_skeleton,
    read_nucla_json,
    read_openpose_folder,
    read_pose_pickle,
    select_people_by_score,
    write_pose_pickle,
)
from skelgraph.data.sample import SkeletonSample
from skelgraph.data.sample_dataset import SampleDataset
from skelgraph.data.sampling import (
    PYSKL_TEST_SEED,
    average_clip_scores,
    random_prefix_length,
    replacement_sample_indices,
    uniform_sample_indices,
)
from skelgraph.data.transforms import (
    AlignToAxes,
    BoneFeatures,
    CenterJoints,
    Compose,
    FillEmptyFrames,
    MinMaxNormalize,
    MotionFeatures,
    Normalize2D,
    PadToLength,
    PaperPreprocess,
    RandomRotate,
    RandomScale,
    RandomShift,
    ReplacementSampleFrames,
    ResampleFrames,
    ThresholdScores,
    Transform,
    UniformSampleFrames,
)

# Grouped by job, sorted within a group.
__all__ = [  # noqa: RUF022
    # What readers return and raise
    "SkeletonFormatError",
    "SkeletonSample",
    # Readers (skelgraph.data.readers), by format. NTU RGB+D:
    "NTU_XSUB120_TRAIN_SUBJECTS",
    "NTU_XSUB_TRAIN_SUBJECTS",
    "NTU_XVIEW_TRAIN_CAMERAS",
    "NTUName",
    "body_energy",
    "ntu_split",
    "parse_ntu_name",
    "read_ntu_skeleton",
    # Kinetics-Skeleton (ST-GCN's JSON):
    "load_kinetics_labels",
    "load_label_names",
    "read_kinetics_json",
    "select_people_by_score",
    # NW-UCLA:
    "NUCLAName",
    "nucla_cross_view_split",
    "parse_nucla_name",
    "read_nucla_json",
    # OpenPose output folders:
    "BODY25_TO_OPENPOSE18",
    "body25_to_openpose18",
    "read_openpose_folder",
    # pyskl / mmaction2 annotation pickles:
    "MAX_PICKLE_BYTES",
    "read_pose_pickle",
    "write_pose_pickle",
    # Arrays from any pose estimator:
    "from_array",
    "read_array_file",
    # Text files of joint rows (MSR Action3D, UTKinect):
    "MSR_ACTION3D_JOINTS",
    "MSR_ACTION3D_TO_KINECT_V1",
    "read_joint_rows",
    # The paper's preprocessing, after 2s-AGCN (preprocess)
    "PREPROCESS_SPECS",
    "JointRef",
    "PreprocessSpec",
    "align_to_axes",
    "alignment_rotation",
    "center_joints",
    "fill_empty_frames",
    "pad_to_length",
    "paper_preprocess",
    "rotation_about_axis",
    # Bones, motion, min-max normalisation, resampling in time (features)
    "bone_features",
    "minmax_normalize",
    "motion_features",
    "resample_frames",
    # 2-D keypoints: pixel coordinates with a confidence score (keypoints2d)
    "normalize_2d",
    "threshold_scores",
    # Clips as pyskl and CTR-GCN sample them, and averaging their scores (sampling)
    "PYSKL_TEST_SEED",
    "average_clip_scores",
    "random_prefix_length",
    "replacement_sample_indices",
    "uniform_sample_indices",
    # Random rotation, scaling, shift (augment)
    "as_generator",
    "random_rotate",
    "random_scale",
    "random_shift",
    "rotation_matrix_xyz",
    # Each array function as a composable callable (transforms)
    "AlignToAxes",
    "BoneFeatures",
    "CenterJoints",
    "Compose",
    "FillEmptyFrames",
    "MinMaxNormalize",
    "MotionFeatures",
    "Normalize2D",
    "PadToLength",
    "PaperPreprocess",
    "RandomRotate",
    "RandomScale",
    "RandomShift",
    "ReplacementSampleFrames",
    "ResampleFrames",
    "ThresholdScores",
    "Transform",
    "UniformSampleFrames",
    # (tensor, label) pairs, cached on disk (dataset)
    "SkeletonDataset",
    # How a sample becomes a model's input, in training and prediction (pipeline)
    "SAMPLINGS",
    "STREAMS",
    "FitPersons",
    "Pipeline",
    "graph_from_config",
    "graph_to_config",
    # Samples in memory prepared by a Pipeline (sample_dataset)
    "SampleDataset",
]
